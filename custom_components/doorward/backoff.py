"""Exponential back-off between reconnection attempts (the hub has its own; this is HA's side)."""

from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays that double after every failed attempt, from `minimum` up to `maximum`.

    `reset()` after an attempt that succeeded, so the next loss retries quickly again.
    """

    minimum: float
    maximum: float
    _next: float | None = field(default=None, init=False, repr=False)

    def reset(self) -> None:
        """Start again from `minimum`."""
        self._next = None

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the one after it."""
        delay = self.minimum if self._next is None else self._next
        self._next = min(delay * 2, self.maximum)
        return delay
