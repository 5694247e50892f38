"""The driver interface: what the hub needs from a kind of doorbell.

A driver knows one family of devices: which mDNS service type they advertise, how to read an
announcement, how to pair, and how to open an event stream, take a snapshot and find the video.
Adding a vendor is adding a module that implements `DoorbellDriver`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp
    from zeroconf.asyncio import AsyncServiceInfo

    from ..models import Doorbell, EventType


class DriverError(Exception):
    """A device misbehaved or could not be reached; the message says how."""


class DeviceUnreachable(DriverError):
    """The device did not answer, or the connection broke."""


class DeviceAuthFailed(DriverError):
    """The device rejected the hub's credentials (it forgot the pairing, or they changed)."""


class PairingRefused(DriverError):
    """The device will not pair now (already paired to another hub, credentials needed...)."""


class MalformedMessage(DriverError):
    """The device sent something that does not follow its protocol."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """A doorbell as seen on the LAN, before or after the hub adopted it."""

    driver: str
    device_id: str
    name: str
    model: str
    host: str
    port: int
    capabilities: frozenset[str]
    firmware: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One event from a device.

    `key` identifies it on the device (used to ignore repeats); `cursor` is where to resume the
    device's stream after this event (stored with the event, handed back to `events`).
    """

    type: EventType
    device_time: float | None
    key: str
    cursor: str


@dataclass(frozen=True, slots=True)
class VideoSource:
    """Where the device's live video is and how to ask for it."""

    url: str
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


class DoorbellDriver(ABC):
    """One family of doorbells."""

    name: str
    service_type: str

    def __init__(self, session: aiohttp.ClientSession) -> None:
        """Drivers share the hub's HTTP client session."""
        self.session = session

    @abstractmethod
    def parse_announcement(self, info: AsyncServiceInfo) -> Announcement | None:
        """Read a resolved mDNS service; None if it is not a device of this driver."""

    @abstractmethod
    async def pair(self, doorbell: Doorbell, hub_id: str, hub_name: str) -> dict[str, str]:
        """Obtain credentials from the device; raise `PairingRefused` if it will not pair."""

    @abstractmethod
    def events(self, doorbell: Doorbell) -> AsyncIterator[DeviceEvent | None]:
        """Connect and yield the device's events, starting after `doorbell.cursor`.

        The first item is None, yielded as soon as the connection is up (the doorbell is online).
        Raises `DeviceUnreachable`, `DeviceAuthFailed` or `MalformedMessage`; ends when the device
        closes the stream.
        """

    @abstractmethod
    async def snapshot(self, doorbell: Doorbell) -> bytes:
        """The current picture as JPEG."""

    @abstractmethod
    def video_source(self, doorbell: Doorbell) -> VideoSource:
        """Where the live video stream is."""

    async def unpair(self, doorbell: Doorbell) -> None:  # noqa: B027 - optional hook
        """Undo on the device what pairing set up (nothing, unless the driver says so)."""
