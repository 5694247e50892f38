"""The driver interface: what the hub needs from a kind of doorbell.

A driver knows one family of devices: which mDNS service type they advertise, how to read an
announcement, how to pair, and how to open an event stream, take a snapshot and find the video.
Adding a vendor is adding a module that implements `DoorbellDriver`.

Devices that cannot pair by themselves name the credentials the owner enters instead
(`owner_credentials`, stored through `accept_credentials`). Devices that push their events call
the hub's notification route (`HubEndpoint.notify_url`); the hub hands each call to `notify`, and
the driver's `events` stream yields what was accepted.
"""

from __future__ import annotations

import asyncio
import socket
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from doorward_hub.protocol import NOTIFY_PREFIX

if TYPE_CHECKING:
    import aiohttp
    from zeroconf.asyncio import AsyncServiceInfo

    from doorward_hub.models import Doorbell, EventType


class DriverError(Exception):
    """A device misbehaved or could not be reached; the message says how."""


class DeviceUnreachable(DriverError):
    """The device did not answer, or the connection broke."""


class DeviceAuthFailed(DriverError):
    """The device rejected the hub's credentials (it forgot the pairing, or they changed)."""


class PairingRefused(DriverError):
    """The device will not pair now (already paired to another hub, credentials needed...)."""


class CredentialsRejected(PairingRefused):
    """The device refuses the credentials the owner entered (wrong, or lacking a permission).

    Only the owner can fix them: the hub retries slowly, and a re-announcement of the device
    does not make it retry sooner.
    """


class DeviceLockedOut(DriverError):
    """The device locked the hub's user out (too many failed logins); it must be left alone
    for `retry_after` seconds, whatever it announces meanwhile."""

    def __init__(self, message: str, retry_after: float) -> None:
        """`message` for the person reading the state, `retry_after` seconds of silence."""
        super().__init__(message)
        self.retry_after = retry_after


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
    device's stream after this event (stored with the event, handed back to `events`); `button`
    names the button of a press (stations may have several; None when the device does not say).
    """

    type: EventType
    device_time: float | None
    key: str
    cursor: str
    button: str | None = None


type PushedEventSink = Callable[[Doorbell, DeviceEvent], Awaitable[None]]
"""Where a driver hands the events its devices push (stored before the call returns)."""


@dataclass(frozen=True, slots=True)
class VideoSource:
    """Where the device's live video is and how to ask for it."""

    url: str
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    refusals: Mapping[int, str] = field(default_factory=dict, compare=False)
    """What the device means by the HTTP statuses it refuses the video with (for the owner)."""

    def refusal(self, status: int) -> str:
        """Why the device refused the video with `status`, in words for the owner."""
        return self.refusals.get(status, f"video refused by the device: HTTP {status}")


def local_address_towards(host: str) -> str:
    """This machine's address on the route to `host` (UDP `connect` sends nothing)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((host, 9))
            return str(sock.getsockname()[0])
    except OSError as err:
        raise DeviceUnreachable(f"no route to {host}: {err}") from err


class HubEndpoint:
    """How devices reach the hub's API, for drivers whose devices call the hub.

    The port is known once the API listens (`listening`); until then `notify_url` waits.
    `public_url` (the owner's setting `notify_base_url`) replaces the address devices would
    otherwise be given, for hubs they reach through NAT or Docker's port publishing.
    """

    def __init__(self, hub_id: str, listen_host: str, public_url: str | None = None) -> None:
        """The hub's id, the address its API listens on (a wildcard means every address), and
        the base URL devices reach the API at, if not that address."""
        self.hub_id = hub_id
        self.listen_host = listen_host
        self.public_url = public_url.rstrip("/") if public_url else None
        self._port = 0
        self._ready = asyncio.Event()

    def listening(self, port: int) -> None:
        """The API listens on `port` now."""
        self._port = port
        self._ready.set()

    async def notify_url(self, device_host: str, *parts: str) -> str:
        """The notification URL, with the hub's address as the device at `device_host` sees it."""
        if self.public_url is not None:
            return f"{self.public_url}{NOTIFY_PREFIX}/" + "/".join(parts)
        await self._ready.wait()
        host = self.listen_host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
            host = local_address_towards(device_host)
        netloc = f"[{host}]:{self._port}" if ":" in host else f"{host}:{self._port}"
        # `/{driver}/{doorbell id}/{secret}/{event}`: public, the secret authenticates the device.
        return f"http://{netloc}{NOTIFY_PREFIX}/" + "/".join(parts)


class DoorbellDriver(ABC):
    """One family of doorbells."""

    name: str
    service_type: str
    owner_credentials: tuple[str, ...] = ()
    """Credentials the owner enters through the hub API (`PUT .../credentials`) because the device
    cannot pair by itself; empty for devices that pair on their own."""

    def __init__(self, session: aiohttp.ClientSession, hub: HubEndpoint) -> None:
        """Drivers share the hub's HTTP client session and know how devices reach the hub."""
        self.session = session
        self.hub = hub
        self._pushed: PushedEventSink | None = None

    def push_events_to(self, sink: PushedEventSink) -> None:
        """Hand the events devices push (`notify`) to `sink`, whatever the state of their link."""
        self._pushed = sink

    async def deliver(self, doorbell: Doorbell, event: DeviceEvent) -> None:
        """Hand a pushed event to the hub; returns once it is stored."""
        if self._pushed is None:
            raise RuntimeError("no sink for pushed events: call push_events_to first")
        await self._pushed(doorbell, event)

    @abstractmethod
    def parse_announcement(self, info: AsyncServiceInfo) -> Announcement | None:
        """Read a resolved mDNS service; None if it is not a device of this driver."""

    async def confirm(self, announcement: Announcement) -> bool:
        """Ask the announced device whether it really is a doorbell of this driver (some
        vendors announce accessories alike); True unless the driver says otherwise."""
        return True

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

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop the driver's own background work (the hub stops)."""

    async def unpair(self, doorbell: Doorbell) -> None:  # noqa: B027 - optional hook
        """Undo on the device what pairing set up (nothing, unless the driver says so)."""

    def accept_credentials(self, doorbell: Doorbell, entered: Mapping[str, str]) -> dict[str, str]:
        """The credentials to store for what the owner entered (`owner_credentials` keys); the
        next connection tells whether the device accepts them."""
        return {key: entered[key] for key in self.owner_credentials}

    async def notify(self, doorbell: Doorbell, secret: str, event: str) -> bool:
        """The device called the hub's notification URL; False if the call is not genuine
        (wrong secret, unknown event). A genuine call's events are `deliver`ed (stored) before
        this returns, whatever the state of the doorbell's link. Only drivers whose devices
        push events implement it."""
        return False
