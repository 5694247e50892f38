"""The live connection to one Doorward hub.

`DoorwardData` is the config entry's runtime data. It holds the hub's doorbells, keeps one
WebSocket to the hub (`/api/v1/ws?after=<last seq>`), and hands every pushed message to the
entities that subscribed to it. The last handled seq (events and clip messages share one order)
is stored (a `Store` per entry), so a reconnect — after a network blip, a hub restart or a Home
Assistant restart — resumes exactly where it stopped: the hub replays every event and clip
message it stored in between, and nothing is handled twice.
"""

import asyncio
import contextlib
import json
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, TypedDict

import aiohttp
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .api import (
    Clip,
    Doorbell,
    DoorwardApiError,
    DoorwardAuthenticationError,
    DoorwardClient,
    DoorwardConnectionError,
    DoorwardError,
    GroupStatus,
    HubEvent,
    HubInfo,
    NeighborPost,
    parse,
)
from .backoff import Backoff
from .const import (
    DOMAIN,
    EVENT_PRESS,
    LOGGER,
    MANUFACTURER,
    RECONNECT_MAX_DELAY,
    RECONNECT_MIN_DELAY,
    STORAGE_SAVE_DELAY,
    STORAGE_VERSION,
    UNREACHABLE_ISSUE_DELAY,
    WS_HEARTBEAT,
)
from .neighborhood import Neighborhood

type DoorwardConfigEntry = ConfigEntry[DoorwardData]

WS_CLOSE_TOKEN_REVOKED = 4001
# Presses remembered to match the hub's later `snapshot` messages to them.
RECENT_EVENTS = 256


class StoredSnapshot(TypedDict):
    """A stored press snapshot reference."""

    seq: int
    updated: str


class StoredState(TypedDict):
    """What survives a Home Assistant restart."""

    last_seq: int
    press_snapshots: dict[str, StoredSnapshot]


@dataclass(frozen=True, slots=True)
class PressSnapshot:
    """The picture the hub took at a doorbell's latest press."""

    seq: int
    updated: datetime


def doorbell_identifier(hub_id: str, doorbell_id: str) -> str:
    """The device registry identifier of a doorbell (scoped to its hub)."""
    return f"{hub_id}_{doorbell_id}"


def create_store(hass: HomeAssistant, entry_id: str) -> Store[StoredState]:
    """The per-entry store of the resume position."""
    return Store[StoredState](hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")


def decode_message(msg: aiohttp.WSMessage) -> dict[str, Any] | None:
    """The JSON object of a pushed text message; None (logged) for anything else."""
    if msg.type is not aiohttp.WSMsgType.TEXT:
        return None
    try:
        message = json.loads(msg.data)
    except ValueError:
        LOGGER.warning("Ignoring a message from the hub that is not JSON")
        return None
    if not isinstance(message, dict):
        LOGGER.warning("Ignoring a message from the hub that is not an object")
        return None
    return message


class _Listeners[T]:
    """Callbacks by key; each subscription returns its own unsubscribe callback."""

    def __init__(self) -> None:
        self._callbacks: defaultdict[str | None, list[Callable[[T], None]]] = defaultdict(list)

    def add(self, key: str | None, func: Callable[[T], None]) -> CALLBACK_TYPE:
        self._callbacks[key].append(func)

        @callback
        def remove() -> None:
            self._callbacks[key].remove(func)

        return remove

    def fire(self, key: str | None, value: T) -> None:
        for func in list(self._callbacks.get(key, ())):
            func(value)

    def fire_all(self, value: T) -> None:
        for key in list(self._callbacks):
            self.fire(key, value)


class DoorwardData:
    """State of one hub and its push connection."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: DoorwardConfigEntry,
        client: DoorwardClient,
        *,
        info: HubInfo,
        doorbells: list[Doorbell],
        group: GroupStatus,
        store: Store[StoredState],
        stored: StoredState,
    ) -> None:
        """Start from what the setup fetched and what the store remembered."""
        self.hass = hass
        self.entry = entry
        self.client = client
        self.hub_id = info.hub_id
        self.hub_name = info.name
        self.hub_version = info.version
        self.hub_device_id = ""
        # Only adopted doorbells: one waiting for the owner's approval is not Home Assistant's.
        self.doorbells: dict[str, Doorbell] = {d.id: d for d in doorbells if d.adopted}
        self.last_seq = stored["last_seq"]
        self.press_snapshots: dict[str, PressSnapshot] = {}
        self.neighborhood = Neighborhood(hass, entry.entry_id, self.hub_id, group)
        for doorbell_id, snapshot in stored["press_snapshots"].items():
            if updated := dt_util.parse_datetime(snapshot["updated"]):
                self.press_snapshots[doorbell_id] = PressSnapshot(snapshot["seq"], updated)
        # The setup just talked to the hub; the WebSocket follows right away.
        self.available = True
        self.connected = False
        self.last_error: str | None = None
        self._store = store
        self._recent_events: OrderedDict[int, str] = OrderedDict()
        self._state_listeners = _Listeners[None]()
        self._event_listeners = _Listeners[HubEvent]()
        self._snapshot_listeners = _Listeners[PressSnapshot]()
        self._clip_listeners = _Listeners[Clip]()
        self._new_doorbell_listeners = _Listeners[Doorbell]()
        self.backoff = Backoff(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        self._task: asyncio.Task[None] | None = None
        self._cancel_issue_timer: CALLBACK_TYPE | None = None

    @property
    def issue_id(self) -> str:
        """The repair issue raised while this hub stays unreachable."""
        return f"hub_unreachable_{self.entry.entry_id}"

    # Subscriptions -------------------------------------------------------------------------

    @callback
    def async_add_listener(
        self, doorbell_id: str | None, func: Callable[[], None]
    ) -> CALLBACK_TYPE:
        """Call `func` when a doorbell (None: the hub's figures) or the availability changes."""
        return self._state_listeners.add(doorbell_id, lambda _: func())

    @callback
    def async_add_event_listener(
        self, doorbell_id: str, func: Callable[[HubEvent], None]
    ) -> CALLBACK_TYPE:
        """Call `func` with every new event of a doorbell."""
        return self._event_listeners.add(doorbell_id, func)

    @callback
    def async_add_snapshot_listener(
        self, doorbell_id: str, func: Callable[[PressSnapshot], None]
    ) -> CALLBACK_TYPE:
        """Call `func` when the hub stored the picture of a doorbell's latest press."""
        return self._snapshot_listeners.add(doorbell_id, func)

    @callback
    def async_add_clip_listener(
        self, doorbell_id: str, func: Callable[[Clip], None]
    ) -> CALLBACK_TYPE:
        """Call `func` with every clip of a doorbell the hub stores from now on."""
        return self._clip_listeners.add(doorbell_id, func)

    @callback
    def async_add_new_doorbell_listener(self, func: Callable[[Doorbell], None]) -> CALLBACK_TYPE:
        """Call `func` when the hub reports a doorbell Home Assistant has not seen yet."""
        return self._new_doorbell_listeners.add(None, func)

    # Lifecycle -----------------------------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """Open the push connection in the background."""
        self._task = self.entry.async_create_background_task(
            self.hass, self._async_run(), f"{DOMAIN} push {self.hub_id}"
        )

    async def async_stop(self) -> None:
        """Close the push connection, drop the repair issue and save the resume position."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._async_cancel_issue_timer()
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
        await self._store.async_save(self._stored_state())

    # Push connection -----------------------------------------------------------------------

    async def _async_run(self) -> None:
        """Keep the push connection open until the entry unloads or the token is refused."""
        while True:
            self.connected = False
            try:
                await self._async_listen()
            except DoorwardAuthenticationError as err:
                if (reason := await self._async_other_hub()) is None:
                    self._async_set_unavailable(str(err))
                    LOGGER.error(
                        "Doorward hub %s no longer accepts Home Assistant's token: %s",
                        self.hub_name,
                        err,
                    )
                    self.entry.async_start_reauth(self.hass)
                    return
            except DoorwardError as err:
                reason = str(err)
            except Exception as err:  # a bug must not end the push connection for good
                LOGGER.exception("Unexpected error in the push connection to %s", self.hub_name)
                reason = repr(err)
            if self.connected:
                self.backoff.reset()
            self._async_set_unavailable(reason)
            delay = self.backoff.next_delay()
            LOGGER.debug("Reconnecting to %s in %.1f s", self.client.base_url, delay)
            await asyncio.sleep(delay)

    async def _async_listen(self) -> NoReturn:
        """One WebSocket connection, from hello to close. Always raises when it ends."""
        ws = await self.client.ws_connect(self.last_seq, WS_HEARTBEAT)
        try:
            hello = True
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.ERROR:
                    raise DoorwardConnectionError(f"push connection failed: {ws.exception()}")
                if (message := decode_message(msg)) is None:
                    continue
                if hello:
                    hello = False
                    await self._async_handle_hello(message)
                else:
                    self.async_handle_message(message)
        finally:
            await ws.close()
        if ws.close_code == WS_CLOSE_TOKEN_REVOKED:
            raise DoorwardAuthenticationError("the hub revoked the token (WebSocket close 4001)")
        raise DoorwardConnectionError(f"the hub closed the connection (code {ws.close_code})")

    async def _async_other_hub(self) -> str | None:
        """Why a refused token is not this hub's doing: another hub took the address."""
        try:
            info = await self.client.info()
        except DoorwardError:
            return None
        if info.hub_id == self.hub_id:
            return None
        return f"another hub ({info.hub_id}) answers at this address"

    async def _async_handle_hello(self, message: dict[str, Any]) -> None:
        if message.get("type") != "hello":
            raise DoorwardApiError("the hub's first message is not hello")
        if message.get("hub_id") != self.hub_id:
            raise DoorwardApiError(f"another hub ({message.get('hub_id')}) answers at this address")
        if isinstance(version := message.get("version"), str) and version != self.hub_version:
            self.hub_version = version
            self.async_register_hub_device()
        hub_last_seq = message.get("last_seq")
        if isinstance(hub_last_seq, int) and hub_last_seq < self.last_seq:
            LOGGER.warning(
                "Doorward hub %s has fewer events (%s) than Home Assistant handled (%s); "
                "its history was reset, following it from there",
                self.hub_name,
                hub_last_seq,
                self.last_seq,
            )
            self.last_seq = hub_last_seq
            self._async_schedule_save()
        # Doorbells removed while the connection was down: the push channel cannot say so.
        doorbells = await self.client.doorbells()
        current = {doorbell.id for doorbell in doorbells if doorbell.adopted}
        for doorbell_id in [d for d in self.doorbells if d not in current]:
            self._async_remove_doorbell(doorbell_id)
        for doorbell in doorbells:
            self.async_update_doorbell(doorbell)
        # The group's status and posts are pushed live only: what changed meanwhile.
        await self.neighborhood.async_refresh(self.client)
        self.connected = True
        self._async_set_available()

    @callback
    def async_handle_message(self, message: dict[str, Any]) -> None:
        """Handle one pushed message (after hello); a malformed one is logged and skipped."""
        try:
            self._async_dispatch(message)
        except DoorwardApiError as err:
            LOGGER.warning("Ignoring a malformed %s message: %s", message.get("type"), err)

    @callback
    def _async_dispatch(self, message: dict[str, Any]) -> None:
        match message.get("type"):
            case "event":
                self._async_handle_event(parse(HubEvent, message.get("event")))
            case "doorbell":
                self.async_update_doorbell(parse(Doorbell, message.get("doorbell")))
            case "doorbell_removed":
                self._async_handle_doorbell_removed(message)
            case "snapshot":
                self._async_handle_snapshot(message)
            case "clip":
                clip = parse(Clip, message.get("clip"))
                if self._async_take_seq(message.get("seq")):
                    self._clip_listeners.fire(clip.doorbell_id, clip)
            case "clip_removed":
                self._async_take_seq(message.get("seq"))
            case "neighbor_post":
                self.neighborhood.async_handle_post(parse(NeighborPost, message.get("post")))
            case "neighborhood":
                self.neighborhood.async_set_status(parse(GroupStatus, message.get("status")))
            case other:
                LOGGER.debug("Ignoring a %s message from the hub", other)

    @callback
    def _async_handle_doorbell_removed(self, message: dict[str, Any]) -> None:
        doorbell_id = message.get("doorbell_id")
        if not isinstance(doorbell_id, str):
            raise DoorwardApiError("doorbell_id is missing")
        self._async_remove_doorbell(doorbell_id)

    @callback
    def _async_handle_snapshot(self, message: dict[str, Any]) -> None:
        seq, doorbell_id = message.get("seq"), message.get("doorbell_id")
        if not isinstance(seq, int) or not isinstance(doorbell_id, str):
            raise DoorwardApiError("seq or doorbell_id is missing")
        if self._recent_events.get(seq, EVENT_PRESS) == EVENT_PRESS:
            self._async_set_press_snapshot(doorbell_id, seq)

    @callback
    def _async_take_seq(self, seq: object) -> bool:
        """Note that the message numbered `seq` is handled; False if it was handled before
        (replayed on resume). A message without a seq (from an older hub) is always new."""
        if seq is None:
            return True
        if not isinstance(seq, int):
            raise DoorwardApiError("seq is not an integer")
        if seq <= self.last_seq:
            return False
        self.last_seq = seq
        self._async_schedule_save()
        return True

    @callback
    def _async_handle_event(self, event: HubEvent) -> None:
        if not self._async_take_seq(event.seq):
            return  # handled before this connection started
        self._recent_events[event.seq] = event.type
        while len(self._recent_events) > RECENT_EVENTS:
            self._recent_events.popitem(last=False)
        self._event_listeners.fire(event.doorbell_id, event)
        if event.type == EVENT_PRESS and event.has_snapshot:
            # A replayed press whose picture was stored while we were away.
            self._async_set_press_snapshot(event.doorbell_id, event.seq)
        self._state_listeners.fire(None, None)

    @callback
    def _async_set_press_snapshot(self, doorbell_id: str, seq: int) -> None:
        current = self.press_snapshots.get(doorbell_id)
        if current is not None and current.seq >= seq:
            return
        snapshot = PressSnapshot(seq, dt_util.utcnow())
        self.press_snapshots[doorbell_id] = snapshot
        self._async_schedule_save()
        self._snapshot_listeners.fire(doorbell_id, snapshot)

    # Doorbells -----------------------------------------------------------------------------

    @callback
    def async_update_doorbell(self, doorbell: Doorbell) -> None:
        """Take a doorbell's new state (pushed, fetched, or answered to a change)."""
        if not doorbell.adopted:
            self._async_remove_doorbell(doorbell.id)
            return
        previous = self.doorbells.get(doorbell.id)
        if previous == doorbell:
            return
        self.doorbells[doorbell.id] = doorbell
        if previous is None:
            LOGGER.debug("New doorbell %s on hub %s", doorbell.id, self.hub_name)
            self._new_doorbell_listeners.fire(None, doorbell)
        else:
            if (previous.name, previous.model, previous.firmware) != (
                doorbell.name,
                doorbell.model,
                doorbell.firmware,
            ):
                self._async_update_doorbell_device(doorbell)
            self._state_listeners.fire(doorbell.id, None)
        self._state_listeners.fire(None, None)

    @callback
    def _async_remove_doorbell(self, doorbell_id: str) -> None:
        if self.doorbells.pop(doorbell_id, None) is None:
            return
        LOGGER.info("Doorbell %s was removed from hub %s", doorbell_id, self.hub_name)
        if self.press_snapshots.pop(doorbell_id, None) is not None:
            self._async_schedule_save()
        if device := self._async_doorbell_device(doorbell_id):
            dr.async_get(self.hass).async_remove_device(device.id)
        self._state_listeners.fire(None, None)

    @callback
    def async_known_identifiers(self) -> set[tuple[str, str]]:
        """The device identifiers of what the hub has now: itself, its doorbells, its group."""
        known = {(DOMAIN, self.hub_id)} | {
            (DOMAIN, doorbell_identifier(self.hub_id, doorbell_id))
            for doorbell_id in self.doorbells
        }
        if self.neighborhood.status.in_group:
            known.add(self.neighborhood.identifier)
        return known

    @callback
    def async_remove_stale_devices(self) -> None:
        """Remove the devices of doorbells (and a group) the hub no longer has."""
        device_registry = dr.async_get(self.hass)
        known = self.async_known_identifiers()
        for device in dr.async_entries_for_config_entry(device_registry, self.entry.entry_id):
            if not device.identifiers & known:
                device_registry.async_remove_device(device.id)

    @callback
    def _async_doorbell_device(self, doorbell_id: str) -> dr.DeviceEntry | None:
        return dr.async_get(self.hass).async_get_device_by_identifier(
            (DOMAIN, doorbell_identifier(self.hub_id, doorbell_id)), self.entry.entry_id
        )

    @callback
    def _async_update_doorbell_device(self, doorbell: Doorbell) -> None:
        if device := self._async_doorbell_device(doorbell.id):
            dr.async_get(self.hass).async_update_device(
                device.id,
                name=doorbell.name,
                model=doorbell.model or None,
                sw_version=doorbell.firmware,
            )

    @callback
    def async_register_hub_device(self) -> None:
        """Create (or update) the hub's device; doorbell devices hang off it."""
        device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, self.hub_id)},
            manufacturer=MANUFACTURER,
            model="Doorward hub",
            name=self.hub_name,
            sw_version=self.hub_version,
        )
        self.hub_device_id = device.id

    # Availability --------------------------------------------------------------------------

    @callback
    def _async_set_available(self) -> None:
        self.last_error = None
        self._async_cancel_issue_timer()
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
        if self.available:
            return
        self.available = True
        # Once at info level, as the loss was (quality scale: log-when-unavailable).
        LOGGER.info("Connection to Doorward hub %s restored", self.hub_name)
        self._state_listeners.fire_all(None)

    @callback
    def _async_set_unavailable(self, reason: str) -> None:
        self.last_error = reason
        if not self.available:
            LOGGER.debug("Doorward hub %s still unreachable: %s", self.hub_name, reason)
            return
        self.available = False
        LOGGER.info(
            "Lost the connection to Doorward hub %s at %s: %s; reconnecting in the background",
            self.hub_name,
            self.client.base_url,
            reason,
        )
        self._cancel_issue_timer = async_call_later(
            self.hass, UNREACHABLE_ISSUE_DELAY, self._async_raise_issue
        )
        self._state_listeners.fire_all(None)

    @callback
    def _async_raise_issue(self, _now: datetime) -> None:
        self._cancel_issue_timer = None
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="hub_unreachable",
            translation_placeholders={
                "name": self.entry.title,
                "url": str(self.client.base_url),
                "error": self.last_error or "",
            },
        )

    @callback
    def _async_cancel_issue_timer(self) -> None:
        if self._cancel_issue_timer is not None:
            self._cancel_issue_timer()
            self._cancel_issue_timer = None

    # Persistence ---------------------------------------------------------------------------

    def _stored_state(self) -> StoredState:
        return {
            "last_seq": self.last_seq,
            "press_snapshots": {
                doorbell_id: {"seq": snapshot.seq, "updated": snapshot.updated.isoformat()}
                for doorbell_id, snapshot in self.press_snapshots.items()
            },
        }

    @callback
    def _async_schedule_save(self) -> None:
        self._store.async_delay_save(self._stored_state, STORAGE_SAVE_DELAY)
