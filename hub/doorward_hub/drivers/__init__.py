"""Doorbell drivers: one module per family of devices, all behind `DoorbellDriver`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .doorward import DoorwardDriver

if TYPE_CHECKING:
    import aiohttp

    from .base import DoorbellDriver

DRIVER_CLASSES: tuple[type[DoorbellDriver], ...] = (DoorwardDriver,)


def create_drivers(session: aiohttp.ClientSession) -> dict[str, DoorbellDriver]:
    """One instance of every driver, by name."""
    return {cls.name: cls(session) for cls in DRIVER_CLASSES}
