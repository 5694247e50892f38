"""Events: device events stored in order, merged presses, fanned out to clients."""
