"""Doorbell drivers: one module per family of devices, all behind `DoorbellDriver`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .doorbird import DoorBirdDriver
from .doorward import DoorwardDriver

if TYPE_CHECKING:
    import aiohttp

    from .base import DoorbellDriver, HubEndpoint

DRIVER_CLASSES: tuple[type[DoorbellDriver], ...] = (DoorwardDriver, DoorBirdDriver)


def create_drivers(session: aiohttp.ClientSession, hub: HubEndpoint) -> dict[str, DoorbellDriver]:
    """One instance of every driver, by name."""
    return {cls.name: cls(session, hub) for cls in DRIVER_CLASSES}
