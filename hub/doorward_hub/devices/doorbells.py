"""Doorbell lifecycle: adoption, pairing, one resilient connection per doorbell, state."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from doorward_hub.core.backoff import Backoff
from doorward_hub.core.tasks import TaskSet
from doorward_hub.devices.drivers.base import (
    Announcement,
    CredentialsRejected,
    DeviceAuthFailed,
    DeviceEvent,
    DeviceLockedOut,
    DeviceUnreachable,
    DoorbellDriver,
    DriverError,
    MalformedMessage,
    PairingRefused,
    VideoSource,
)
from doorward_hub.devices.snapshots import SnapshotStore
from doorward_hub.events.bus import EventBus
from doorward_hub.models import Doorbell, DoorbellStatus, Event, EventType
from doorward_hub.protocol import Capability
from doorward_hub.storage.doorbells import DoorbellRepository
from doorward_hub.storage.events import EventRepository
from doorward_hub.storage.settings import SettingsRepository
from doorward_hub.wire import messages, objects

_LOGGER = logging.getLogger(__name__)

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
REJECTED_BACKOFF_START = 60.0
REJECTED_BACKOFF_MAX = 3600.0
"""Retries with credentials the device refused: slow (only the owner fixes them), never cut
short by announcements, so that the device does not lock the user out."""
FORGOTTEN_KEY = "forgotten_doorbells"


class UnknownDoorbell(KeyError):
    """No doorbell has that id."""


class DoorbellUnavailable(Exception):
    """The doorbell cannot do that now (offline, not paired, no such capability)."""


class DoorbellListener(Protocol):
    """Told about doorbell changes and stored events (the recorder listens)."""

    def doorbell_changed(self, doorbell: Doorbell) -> None:
        """A doorbell was added or changed (status, settings, address, credentials)."""

    def doorbell_removed(self, doorbell_id: str) -> None:
        """A doorbell was forgotten."""

    def event_recorded(self, doorbell: Doorbell, event: Event, device_time: float | None) -> None:
        """A device event was stored as `event` (or merged into it, for repeated presses)."""


@dataclass(slots=True)
class _Link:
    """The task that keeps one doorbell connected, and the event that cuts its back-off short."""

    task: asyncio.Task[None]
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class DoorbellManager:
    """Knows every doorbell, keeps adopted ones connected, turns their events into hub events."""

    def __init__(
        self,
        *,
        store: DoorbellRepository,
        events: EventRepository,
        settings: SettingsRepository,
        bus: EventBus,
        snapshots: SnapshotStore,
        drivers: Mapping[str, DoorbellDriver],
        hub_id: str,
        hub_name: str,
        adoption: str,
    ) -> None:
        """Wire the manager to the hub's parts; call `load` next."""
        self._store = store
        self._events = events
        self._settings = settings
        self._bus = bus
        self._snapshots = snapshots
        self._drivers = drivers
        self._hub_id = hub_id
        self._hub_name = hub_name
        self._auto_adopt = adoption == "auto"
        self.doorbells: dict[str, Doorbell] = {}
        self._links: dict[str, _Link] = {}
        self._seen: dict[str, Announcement] = {}
        self._forgotten: set[str] = set()
        self._background = TaskSet()
        self._listeners: list[DoorbellListener] = []
        self._closing = False
        for driver in drivers.values():
            driver.push_events_to(self._pushed)

    def add_listener(self, listener: DoorbellListener) -> None:
        """Tell `listener` about doorbell changes and stored events from now on."""
        self._listeners.append(listener)

    async def load(self) -> None:
        """Read known doorbells from the store and connect the adopted ones."""
        self._forgotten = set(json.loads(await self._settings.get_value(FORGOTTEN_KEY) or "[]"))
        for doorbell in await self._store.load_doorbells():
            if doorbell.driver not in self._drivers:
                _LOGGER.warning(
                    "No driver for a stored doorbell",
                    extra={"doorbell_id": doorbell.id, "driver": doorbell.driver},
                )
                continue
            doorbell.status = (
                DoorbellStatus.OFFLINE if doorbell.approved else DoorbellStatus.PENDING_APPROVAL
            )
            self.doorbells[doorbell.id] = doorbell
            if doorbell.approved:
                self._start_link(doorbell)

    def get(self, doorbell_id: str) -> Doorbell:
        """The doorbell with that id, or `UnknownDoorbell`."""
        try:
            return self.doorbells[doorbell_id]
        except KeyError:
            raise UnknownDoorbell(doorbell_id) from None

    # Discovery callbacks
    async def announced(self, announcement: Announcement) -> None:
        """A doorbell was seen on the LAN (new, re-announced, or at a new address)."""
        self._seen[announcement.device_id] = announcement
        doorbell = self.doorbells.get(announcement.device_id)
        if doorbell is None:
            await self._offer(announcement)
            return
        moved = (doorbell.host, doorbell.port) != (announcement.host, announcement.port)
        doorbell.host, doorbell.port = announcement.host, announcement.port
        doorbell.capabilities = announcement.capabilities
        doorbell.model = announcement.model
        await self._store.save_doorbell(doorbell)
        link = self._links.get(doorbell.id)
        if moved:
            _LOGGER.info(
                "Doorbell moved",
                extra={"doorbell_id": doorbell.id, "host": doorbell.host, "port": doorbell.port},
            )
            self._publish(doorbell)
            if link is not None:
                await self._stop_link(doorbell.id)
                self._start_link(doorbell)
        elif link is not None:
            link.wake.set()  # back on the LAN: retry now rather than after the back-off

    def withdrawn(self, device_id: str) -> None:
        """A doorbell's mDNS announcement went away (its connection tells if it is gone)."""
        if self._seen.pop(device_id, None) is not None:
            _LOGGER.info("Doorbell stopped announcing", extra={"doorbell_id": device_id})

    async def _offer(self, announcement: Announcement) -> None:
        adopt = self._auto_adopt and announcement.device_id not in self._forgotten
        doorbell = Doorbell(
            id=announcement.device_id,
            driver=announcement.driver,
            name=announcement.name,
            model=announcement.model,
            host=announcement.host,
            port=announcement.port,
            capabilities=announcement.capabilities,
            firmware=announcement.firmware,
            approved=adopt,
            status=DoorbellStatus.PAIRING if adopt else DoorbellStatus.PENDING_APPROVAL,
        )
        self.doorbells[doorbell.id] = doorbell
        await self._store.save_doorbell(doorbell)
        _LOGGER.info(
            "Found a doorbell",
            extra={"doorbell_id": doorbell.id, "host": doorbell.host, "adopting": adopt},
        )
        self._publish(doorbell)
        if adopt:
            self._start_link(doorbell)

    # Owner actions
    async def approve(self, doorbell_id: str) -> Doorbell:
        """Adopt a doorbell that waits for approval (no-op for one already adopted)."""
        doorbell = self.get(doorbell_id)
        if not doorbell.approved:
            doorbell.approved = True
            self._forgotten.discard(doorbell_id)
            await self._settings.set_value(FORGOTTEN_KEY, json.dumps(sorted(self._forgotten)))
            await self._store.save_doorbell(doorbell)
            self._set_status(doorbell, DoorbellStatus.PAIRING)
            self._start_link(doorbell)
        return doorbell

    async def update(
        self,
        doorbell_id: str,
        *,
        name: str | None = None,
        privacy_mode: bool | None = None,
        record_audio: bool | None = None,
        retention_days: float | None = None,
    ) -> Doorbell:
        """Rename a doorbell, switch its privacy mode or change its recording settings
        (`retention_days` 0 means the hub's default)."""
        doorbell = self.get(doorbell_id)
        if name is not None:
            doorbell.name = name
        if record_audio is not None:
            doorbell.record_audio = record_audio
        if retention_days is not None:
            doorbell.retention_days = retention_days or None
        if privacy_mode is not None and privacy_mode != doorbell.privacy_mode:
            doorbell.privacy_mode = privacy_mode
            _LOGGER.info(
                "Privacy mode %s",
                "on" if privacy_mode else "off",
                extra={"doorbell_id": doorbell.id},
            )
        await self._store.save_doorbell(doorbell)
        self._publish(doorbell)
        return doorbell

    async def forget(self, doorbell_id: str) -> None:
        """Disconnect, unpair and remove a doorbell. If it is still on the LAN, it is offered
        again for approval (never re-adopted automatically)."""
        doorbell = self.get(doorbell_id)
        await self._stop_link(doorbell_id)
        if doorbell.credentials:
            try:
                await self._drivers[doorbell.driver].unpair(doorbell)
            except DriverError as err:
                _LOGGER.warning(
                    "Could not undo the pairing on the device",
                    extra={"doorbell_id": doorbell_id, "reason": str(err)},
                )
        del self.doorbells[doorbell_id]
        self._forgotten.add(doorbell_id)
        await self._store.delete_doorbell(doorbell_id)
        await self._settings.set_value(FORGOTTEN_KEY, json.dumps(sorted(self._forgotten)))
        _LOGGER.info("Forgot a doorbell", extra={"doorbell_id": doorbell_id})
        for listener in self._listeners:
            listener.doorbell_removed(doorbell_id)
        self._bus.publish(messages.DoorbellRemoved(doorbell_id).to_dict())
        announcement = self._seen.get(doorbell_id)
        if announcement is not None:
            await self._offer(announcement)

    async def set_credentials(self, doorbell_id: str, entered: Mapping[str, str]) -> Doorbell:
        """Store credentials the owner entered for a doorbell that cannot pair by itself and
        reconnect with them; the doorbell's status then tells whether the device accepts them."""
        doorbell = self.get(doorbell_id)
        driver = self._drivers[doorbell.driver]
        if not driver.owner_credentials:
            raise DoorbellUnavailable("this doorbell pairs by itself; it takes no credentials")
        await self._stop_link(doorbell_id)
        doorbell.credentials = driver.accept_credentials(doorbell, entered)
        await self._store.save_doorbell(doorbell)
        _LOGGER.info("Credentials entered for a doorbell", extra={"doorbell_id": doorbell_id})
        if doorbell.approved:
            self._set_status(doorbell, DoorbellStatus.PAIRING)
            self._start_link(doorbell)
        return doorbell

    async def notify(self, driver_name: str, doorbell_id: str, secret: str, event: str) -> bool:
        """A device called its notification URL; False if the call is not genuine. A genuine
        call's events are stored before this returns, whatever the state of the link."""
        doorbell = self.doorbells.get(doorbell_id)
        if doorbell is None or doorbell.driver != driver_name or not doorbell.approved:
            raise UnknownDoorbell(doorbell_id)
        return await self._drivers[driver_name].notify(doorbell, secret, event)

    async def _pushed(self, doorbell: Doorbell, device_event: DeviceEvent) -> None:
        """Store an event a device pushed (shielded: a dropped caller does not drop it)."""
        if self.doorbells.get(doorbell.id) is not doorbell:
            return  # forgotten meanwhile
        driver = self._drivers[doorbell.driver]
        await asyncio.shield(self._background.spawn(self._handle(doorbell, driver, device_event)))

    # Media
    def _driver_for(self, doorbell_id: str, capability: str) -> tuple[Doorbell, DoorbellDriver]:
        doorbell = self.get(doorbell_id)
        if doorbell.privacy_mode:
            raise DoorbellUnavailable("doorbell is in privacy mode: no live picture or video")
        if capability not in doorbell.capabilities:
            raise DoorbellUnavailable(f"doorbell has no {capability} capability")
        if not doorbell.credentials:
            raise DoorbellUnavailable("doorbell is not paired")
        return doorbell, self._drivers[doorbell.driver]

    async def snapshot(self, doorbell_id: str) -> bytes:
        """The doorbell's current picture (JPEG)."""
        doorbell, driver = self._driver_for(doorbell_id, Capability.SNAPSHOT)
        try:
            return await driver.snapshot(doorbell)
        except DriverError as err:
            raise DoorbellUnavailable(str(err)) from err

    def video_source(self, doorbell_id: str) -> VideoSource:
        """Where the doorbell's live video is."""
        doorbell, driver = self._driver_for(doorbell_id, Capability.VIDEO)
        try:
            return driver.video_source(doorbell)
        except DriverError as err:
            raise DoorbellUnavailable(str(err)) from err

    # Connections
    def _start_link(self, doorbell: Doorbell) -> None:
        if self._closing or doorbell.id in self._links:
            return
        task = asyncio.create_task(self._keep_connected(doorbell), name=f"link {doorbell.id}")
        self._links[doorbell.id] = _Link(task)

    async def _stop_link(self, doorbell_id: str) -> None:
        link = self._links.pop(doorbell_id, None)
        if link is not None:
            link.task.cancel()
            await asyncio.gather(link.task, return_exceptions=True)

    async def _keep_connected(self, doorbell: Doorbell) -> None:
        """Pair if needed, stream events, and on any failure retry with capped back-off."""
        driver = self._drivers[doorbell.driver]
        backoff = Backoff(BACKOFF_START, BACKOFF_MAX)
        # Refused credentials and lock-outs: a slow pace of its own that announcements never cut
        # short (retrying fast can lock the user out).
        rejected = Backoff(REJECTED_BACKOFF_START, REJECTED_BACKOFF_MAX, jitter=0.1)
        while True:
            try:
                if not doorbell.credentials:
                    await self._pair(doorbell, driver)
                async for device_event in driver.events(doorbell):
                    if device_event is None:
                        self._went_online(doorbell)
                        backoff.reset()
                        rejected.reset()
                        continue
                    # Shielded and tracked: an event being stored is always published, even if
                    # the link is stopped, and shutdown waits for it before closing the store.
                    await asyncio.shield(
                        self._background.spawn(self._handle(doorbell, driver, device_event))
                    )
                self._set_status(doorbell, DoorbellStatus.OFFLINE, "device closed the connection")
            except DeviceAuthFailed:
                # The device forgot us (reset, re-paired elsewhere): pair afresh next round.
                doorbell.credentials = {}
                await self._store.save_doorbell(doorbell)
                self._set_status(
                    doorbell, DoorbellStatus.PAIRING, "device no longer accepts the hub's token"
                )
                continue
            except (CredentialsRejected, DeviceLockedOut) as err:
                # Leave the device alone, whatever it announces: it may lock the user out.
                self._set_status(doorbell, DoorbellStatus.ERROR, str(err))
                if isinstance(err, DeviceLockedOut):
                    await asyncio.sleep(max(err.retry_after, REJECTED_BACKOFF_START))
                else:
                    await rejected.wait()
                continue
            except Exception as err:
                if isinstance(err, PairingRefused):
                    backoff.hold_off()
                self._show_failure(doorbell, err)
            link = self._links.get(doorbell.id)
            await backoff.wait(link.wake if link is not None else None)

    def _show_failure(self, doorbell: Doorbell, err: Exception) -> None:
        """Set the state a failed link leaves the doorbell in."""
        if isinstance(err, PairingRefused):
            self._set_status(doorbell, DoorbellStatus.ERROR, str(err))
        elif isinstance(err, MalformedMessage):
            self._set_status(
                doorbell, DoorbellStatus.ERROR, f"malformed message from device: {err}"
            )
        elif isinstance(err, DeviceUnreachable):
            self._set_status(doorbell, DoorbellStatus.OFFLINE, str(err))
        else:
            # A device must never take its link (let alone the hub) down: log, retry later.
            _LOGGER.error("Unexpected failure talking to a doorbell", exc_info=err)
            self._set_status(doorbell, DoorbellStatus.ERROR, f"unexpected failure: {err!r}")

    async def _pair(self, doorbell: Doorbell, driver: DoorbellDriver) -> None:
        if driver.owner_credentials:
            raise PairingRefused("credentials needed")  # the owner enters them: PUT .../credentials
        self._set_status(doorbell, DoorbellStatus.PAIRING)
        doorbell.credentials = await driver.pair(doorbell, self._hub_id, self._hub_name)
        doorbell.cursor = None  # a new pairing starts a new stream
        await self._store.save_doorbell(doorbell)
        _LOGGER.info("Paired a doorbell", extra={"doorbell_id": doorbell.id})

    def _went_online(self, doorbell: Doorbell) -> None:
        doorbell.last_seen = time.time()
        self._set_status(doorbell, DoorbellStatus.ONLINE)

    async def _handle(
        self, doorbell: Doorbell, driver: DoorbellDriver, device_event: DeviceEvent
    ) -> None:
        recorded = await self._bus.record(doorbell, device_event)
        doorbell.last_seen = time.time()
        if recorded is None:
            return
        for listener in self._listeners:
            listener.event_recorded(doorbell, recorded.event, device_event.device_time)
        if recorded.merged:
            return
        event = recorded.event
        if (
            event.type is EventType.PRESS
            and Capability.SNAPSHOT in doorbell.capabilities
            and not doorbell.privacy_mode
        ):
            self._background.spawn(self._capture(doorbell, driver, event.seq))

    async def _capture(self, doorbell: Doorbell, driver: DoorbellDriver, seq: int) -> None:
        """Take the picture of the moment of event `seq` and tell subscribers it is there."""
        try:
            jpeg = await driver.snapshot(doorbell)
        except DriverError as err:
            _LOGGER.warning(
                "No snapshot for an event",
                extra={"doorbell_id": doorbell.id, "seq": seq, "reason": str(err)},
            )
            return
        await self._snapshots.save(seq, jpeg)
        await self._events.mark_snapshot(seq)
        self._bus.publish(messages.SnapshotMessage(seq, doorbell.id).to_dict())

    def _set_status(
        self, doorbell: Doorbell, status: DoorbellStatus, error: str | None = None
    ) -> None:
        changed = (doorbell.status, doorbell.error) != (status, error)
        if not changed:
            return
        previous = doorbell.status
        doorbell.status, doorbell.error = status, error
        if status is not previous:
            level = logging.WARNING if status is DoorbellStatus.ERROR else logging.INFO
            _LOGGER.log(
                level,
                "Doorbell %s",
                status.value,
                extra={"doorbell_id": doorbell.id, "reason": error}
                if error
                else {"doorbell_id": doorbell.id},
            )
        self._publish(doorbell)

    def _publish(self, doorbell: Doorbell) -> None:
        self._bus.publish(messages.DoorbellMessage(objects.Doorbell.of(doorbell)).to_dict())
        for listener in self._listeners:
            listener.doorbell_changed(doorbell)

    async def close(self) -> None:
        """Disconnect every doorbell and finish in-flight work (events being stored, snapshots)."""
        self._closing = True
        for doorbell_id in list(self._links):
            await self._stop_link(doorbell_id)
        for driver in self._drivers.values():
            await driver.close()
        await self._background.wait(within=5)
