"""The DoorBird driver: identity, credentials, notifications, media.

On every connection (and every `CHECK_INTERVAL`) the driver checks the device and the
credentials (`info.cgi`, whose MAC must be the announced one before anything is written), then
makes sure the device calls the hub (see `registration`). A D301 has no schedule: its events
come from the `monitor.cgi` stream instead, for as long as the link is up.

Notifications are stored whatever the state of the link: a press the device pushes with the
right secret is never dropped, while the credentials are rejected, the device is locked out or
the link is in back-off. Credentials the device refuses, a user without the "API-Operator"
permission and a lock-out (423) are named as such, and the driver then leaves the device alone
(no snapshot or video calls either) until the back-off ends or the owner enters new credentials.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, override

from doorward_hub.protocol import Capability

from ..base import (
    Announcement,
    CredentialsRejected,
    DeviceAuthFailed,
    DeviceEvent,
    DeviceLockedOut,
    DeviceUnreachable,
    DoorbellDriver,
    PairingRefused,
    VideoSource,
)
from . import registration
from .client import WATCH_ALWAYS_MISSING, DoorBirdClient, NoScheduleError, is_door_station
from .notifications import Notifications

if TYPE_CHECKING:
    import aiohttp
    from zeroconf.asyncio import AsyncServiceInfo

    from doorward_hub.models import Doorbell

    from ..base import HubEndpoint

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_axis-video._tcp.local."
MAC_PREFIX = "1CCAE3"
ID_PREFIX = "doorbird-"
CAPABILITIES = frozenset(
    {Capability.PRESS, Capability.MOTION, Capability.SNAPSHOT, Capability.VIDEO}
)
CHECK_INTERVAL = 60.0
"""Seconds between checks that the device is reachable and still has the hub's registration."""

CREDENTIALS_NEEDED = "credentials needed"
CREDENTIALS_REJECTED = "credentials rejected"
PERMISSION_MISSING = (
    "permission missing: the DoorBird user lacks the API-Operator permission; "
    "grant it in the DoorBird app (Administration > User) or enter another user"
)
NO_SCHEDULE = "no schedule on this device (D301): events come from its monitor stream"
VIDEO_REFUSALS = {
    204: WATCH_ALWAYS_MISSING,
    503: (
        "no video stream left: the DoorBird serves only a few streams at once and its app "
        "takes precedence; close another viewer and try again"
    ),
}
"""What the DoorBird means when it refuses `video.cgi`."""


def _text(properties: dict[bytes, bytes | None], key: str) -> str | None:
    value = properties.get(key.encode())
    return None if value is None else value.decode("utf-8", "replace").strip()


def _mac_of(doorbell_id: str) -> str:
    return doorbell_id.removeprefix(ID_PREFIX).upper()


class WrongDevice(DeviceUnreachable):
    """Another device answers at the doorbell's address (DoorBirds swapped addresses)."""


class DoorBirdDriver(DoorbellDriver):
    """DoorBird door stations, through their LAN API."""

    name = "doorbird"
    service_type = SERVICE_TYPE
    owner_credentials = ("username", "password")

    def __init__(self, session: aiohttp.ClientSession, hub: HubEndpoint) -> None:
        """See `DoorbellDriver`; also keeps each doorbell's notification state and how long
        to leave a device alone."""
        super().__init__(session, hub)
        self._notifications: dict[str, Notifications] = {}
        self._locked_until: dict[str, tuple[float, str]] = {}
        self._refused: dict[str, CredentialsRejected] = {}
        self._door_stations: set[str] = set()

    @override
    def parse_announcement(self, info: AsyncServiceInfo) -> Announcement | None:
        mac = (_text(info.properties, "macaddress") or "").replace(":", "").upper()
        addresses = info.parsed_scoped_addresses()
        if not mac.startswith(MAC_PREFIX) or not mac.isalnum() or not addresses:
            return None  # another Axis-style camera
        instance = info.name.removesuffix("." + SERVICE_TYPE)
        return Announcement(
            driver=self.name,
            device_id=ID_PREFIX + mac.lower(),
            name=instance,
            model="DoorBird",
            # Prefer IPv4: link-local IPv6 needs a scope that URLs carry badly.
            host=sorted(addresses, key=lambda a: ":" in a)[0],
            port=info.port or 80,
            capabilities=CAPABILITIES,
        )

    @override
    async def confirm(self, announcement: Announcement) -> bool:
        """Door stations only: DoorBird's I/O controllers and indoor stations announce alike."""
        if announcement.device_id in self._door_stations:
            return True
        answer = await is_door_station(self.session, announcement.host, announcement.port)
        if answer:
            self._door_stations.add(announcement.device_id)
        return bool(answer)

    def _client(self, doorbell: Doorbell) -> DoorBirdClient:
        credentials = doorbell.credentials
        return DoorBirdClient(
            self.session,
            doorbell.host,
            doorbell.port,
            credentials.get("username", ""),
            credentials.get("password", ""),
        )

    @override
    async def pair(self, doorbell: Doorbell, hub_id: str, hub_name: str) -> dict[str, str]:
        raise PairingRefused(CREDENTIALS_NEEDED)

    @override
    def accept_credentials(self, doorbell: Doorbell, entered: Mapping[str, str]) -> dict[str, str]:
        # A new secret with new credentials: the next connection replaces the old registration.
        # Until it has, the device still calls the old secret: those calls stay genuine.
        self._locked_until.pop(doorbell.id, None)
        self._refused.pop(doorbell.id, None)
        credentials = {
            "username": entered["username"],
            "password": entered["password"],
            "secret": secrets.token_urlsafe(24),
        }
        previous = doorbell.credentials.get("secret")
        if previous:
            credentials["previous_secret"] = previous
        return credentials

    @override
    async def notify(self, doorbell: Doorbell, secret: str, event: str) -> bool:
        credentials = doorbell.credentials
        genuine = any(
            known and hmac.compare_digest(secret.encode(), known.encode())
            for known in (credentials.get("secret"), credentials.get("previous_secret"))
        )
        if not genuine:
            return False
        notifications = self._notifications_of(doorbell)
        if event == registration.MOTION:
            await notifications.motion()
        elif event == "press":  # registered by an earlier version: one favorite for all buttons
            await notifications.press(None)
        elif event.startswith(registration.PRESS_PREFIX) and event != registration.PRESS_PREFIX:
            await notifications.press(event.removeprefix(registration.PRESS_PREFIX))
        else:
            return False
        return True

    def _notifications_of(self, doorbell: Doorbell) -> Notifications:
        notifications = self._notifications.get(doorbell.id)
        if notifications is None:

            async def deliver(event: DeviceEvent) -> None:
                await self.deliver(doorbell, event)

            notifications = self._notifications[doorbell.id] = Notifications(deliver)
        return notifications

    async def _notify_urls(self, doorbell: Doorbell, events: list[str]) -> dict[str, str]:
        secret = doorbell.credentials.get("secret")
        if not secret:
            raise PairingRefused(CREDENTIALS_NEEDED)
        return {
            event: await self.hub.notify_url(doorbell.host, self.name, doorbell.id, secret, event)
            for event in events
        }

    def _check_locked_out(self, doorbell: Doorbell) -> None:
        """Raise `DeviceLockedOut` while the device's lock-out lasts."""
        locked = self._locked_until.get(doorbell.id)
        if locked is None:
            return
        until, message = locked
        remaining = until - time.monotonic()
        if remaining > 0:
            raise DeviceLockedOut(message, remaining)
        del self._locked_until[doorbell.id]

    def _check_media_allowed(self, doorbell: Doorbell) -> None:
        """Snapshots and video wait for the link: they must not knock on a device that refuses
        the credentials (each refusal brings a lock-out closer) or has locked the user out."""
        self._check_locked_out(doorbell)
        refused = self._refused.get(doorbell.id)
        if refused is not None:
            raise refused

    def _refusal(self, doorbell: Doorbell, err: DeviceAuthFailed | DeviceLockedOut) -> Exception:
        """Remember a refusal of the device; the error to raise for it."""
        if isinstance(err, DeviceLockedOut):
            self._locked_until[doorbell.id] = (time.monotonic() + err.retry_after, str(err))
            return err
        refusal = CredentialsRejected(CREDENTIALS_REJECTED)
        self._refused[doorbell.id] = refusal
        return refusal

    async def _identify(self, client: DoorBirdClient, doorbell: Doorbell) -> dict[str, Any]:
        """`info.cgi`, checked: the credentials work and the device is the announced one."""
        try:
            info = await client.info()
        except (DeviceAuthFailed, DeviceLockedOut) as err:
            raise self._refusal(doorbell, err) from err
        macs = {
            str(info.get(key, "")).replace(":", "").upper()
            for key in ("PRIMARY_MAC_ADDR", "WIFI_MAC_ADDR")
        }
        if _mac_of(doorbell.id) not in macs:
            found = ", ".join(sorted(mac for mac in macs if mac)) or "none"
            raise WrongDevice(
                f"another device answers at {doorbell.host}:{doorbell.port} (MAC {found}); "
                "waiting for this DoorBird to announce its address"
            )
        return info

    @override
    async def events(self, doorbell: Doorbell) -> AsyncIterator[DeviceEvent | None]:
        self._check_locked_out(doorbell)
        client = self._client(doorbell)
        if not doorbell.credentials.get("secret"):
            raise PairingRefused(CREDENTIALS_NEEDED)
        try:
            info = await self._identify(client, doorbell)
            try:
                await self._register(client, doorbell, info)
            except NoScheduleError:
                async for _ in self._monitor(client, doorbell):
                    yield None
                return
            yield None
            while True:
                await asyncio.sleep(CHECK_INTERVAL)
                info = await self._identify(client, doorbell)
                await self._register(client, doorbell, info)
        except DeviceAuthFailed as err:
            # info.cgi took the credentials; favorites or schedule did not.
            refusal = self._refused[doorbell.id] = CredentialsRejected(PERMISSION_MISSING)
            raise refusal from err
        except DeviceLockedOut as err:
            raise self._refusal(doorbell, err) from err

    async def _register(
        self, client: DoorBirdClient, doorbell: Doorbell, info: dict[str, Any]
    ) -> None:
        entries = await client.schedule()
        inputs = registration.notification_inputs(entries, str(info.get("DEVICE-TYPE", "")))
        urls = await self._notify_urls(doorbell, list(inputs))
        done = await registration.register(client, self.hub.hub_id, entries, urls, inputs)
        self._refused.pop(doorbell.id, None)
        doorbell.credentials.pop("previous_secret", None)  # the device calls the new one now
        if done.added or done.removed or done.enabled:
            _LOGGER.info(
                "Registered the hub's notifications on a DoorBird",
                extra={
                    "doorbell_id": doorbell.id,
                    "added": done.added,
                    "removed_stale": done.removed,
                    "enabled_again": done.enabled,
                },
            )

    async def _monitor(self, client: DoorBirdClient, doorbell: Doorbell) -> AsyncIterator[None]:
        """A device without schedule (D301): yield once connected, then read its events from
        the monitor stream; the hub's own favorites are removed (nothing can call them)."""
        await registration.unregister(client, self.hub.hub_id, None)
        self._refused.pop(doorbell.id, None)
        _LOGGER.info(NO_SCHEDULE, extra={"doorbell_id": doorbell.id})
        notifications = self._notifications_of(doorbell)
        stream = client.monitor()
        yield None
        async for fired in stream:
            if fired == "doorbell":
                await notifications.press(None)
            else:
                await notifications.motion()

    @override
    async def unpair(self, doorbell: Doorbell) -> None:
        """Remove the hub's favorites and the schedule outputs that call them."""
        await self._stop_notifications(doorbell.id)
        self._check_media_allowed(doorbell)
        client = self._client(doorbell)
        await self._identify(client, doorbell)
        try:
            entries: list[dict[str, Any]] | None = await client.schedule()
        except NoScheduleError:
            entries = None
        if await registration.unregister(client, self.hub.hub_id, entries):
            _LOGGER.info(
                "Removed the hub's notifications from a DoorBird",
                extra={"doorbell_id": doorbell.id},
            )

    async def _stop_notifications(self, doorbell_id: str) -> None:
        notifications = self._notifications.pop(doorbell_id, None)
        if notifications is not None:
            await notifications.close()

    @override
    async def close(self) -> None:
        for doorbell_id in list(self._notifications):
            await self._stop_notifications(doorbell_id)

    @override
    async def snapshot(self, doorbell: Doorbell) -> bytes:
        self._check_media_allowed(doorbell)
        try:
            return await self._client(doorbell).image()
        except (DeviceAuthFailed, DeviceLockedOut) as err:
            raise self._refusal(doorbell, err) from err

    @override
    def video_source(self, doorbell: Doorbell) -> VideoSource:
        self._check_media_allowed(doorbell)
        client = self._client(doorbell)
        return VideoSource(
            f"{client.base}/video.cgi",
            "multipart/x-mixed-replace",
            client.headers,
            refusals=VIDEO_REFUSALS,
        )
