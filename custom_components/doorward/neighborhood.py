"""The hub's neighborhood group in Home Assistant: its device and what its entities show.

The group gets a device of its own behind the hub's (`via_device`), named after the group, from
the moment the hub is in a group until the household leaves it (an admin's removal keeps the
device, so the household sees why nothing arrives any more). The hub pushes its status when it
changes (`neighborhood` message) and each neighbor's post (`neighbor_post`); both are live only,
so every (re)connection fetches the status and the newest posts again.

"Posts today" counts the neighbors' posts sent since local midnight, by event id: a post seen
again after a reconnect is not counted twice, and the count starts again at midnight.
"""

from collections.abc import Callable
from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_time_change
from homeassistant.util import dt as dt_util

from .api import DoorwardClient, GroupStatus, NeighborPost
from .const import DOMAIN, LOGGER

# The newest posts fetched on each connection to count today's (a busier day counts from here).
RECENT_POSTS_LIMIT = 200
NO_GROUP = GroupStatus(joined=False, group_name=None, user_id=None, home_cell=None, removed=None)


def group_identifier(hub_id: str) -> str:
    """The device registry identifier of a hub's neighborhood group (one group per hub)."""
    return f"{hub_id}_neighborhood"


class Neighborhood:
    """The group status of one hub, today's neighbor posts, and the group's device."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, hub_id: str, status: GroupStatus
    ) -> None:
        """Start from the status the setup fetched."""
        self.hass = hass
        self.entry_id = entry_id
        self.hub_id = hub_id
        self.status = status
        self.day_start = dt_util.start_of_local_day()
        self._today: set[str] = set()
        self._state_listeners: list[Callable[[], None]] = []
        self._post_listeners: list[Callable[[NeighborPost], None]] = []
        self._group_listeners: list[Callable[[], None]] = []

    @property
    def posts_today(self) -> int:
        """Neighbors' posts sent since local midnight."""
        return len(self._today)

    @property
    def identifier(self) -> tuple[str, str]:
        """The group device's identifier."""
        return (DOMAIN, group_identifier(self.hub_id))

    # Subscriptions -------------------------------------------------------------------------

    @callback
    def async_add_listener(self, func: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `func` when the status or today's count changes."""
        return _add(self._state_listeners, func)

    @callback
    def async_add_post_listener(self, func: Callable[[NeighborPost], None]) -> CALLBACK_TYPE:
        """Call `func` with every neighbor's post the hub pushes."""
        return _add(self._post_listeners, func)

    @callback
    def async_add_group_listener(self, func: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `func` when the hub joins a group (its entities are added then)."""
        return _add(self._group_listeners, func)

    # Updates -------------------------------------------------------------------------------

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Start today's count again at each local midnight; returns the stop callback."""
        return async_track_time_change(self.hass, self._async_new_day, hour=0, minute=0, second=0)

    async def async_refresh(self, client: DoorwardClient) -> None:
        """Fetch the status and the newest posts (after each (re)connection)."""
        status = await client.neighborhood()
        posts = await client.neighbor_posts(RECENT_POSTS_LIMIT) if status.in_group else []
        self.async_set_status(status)
        self._async_roll_day()
        fresh = {post.event_id for post in posts if self._counts(post)} - self._today
        if fresh:
            self._today |= fresh
            self._async_fire_state()

    @callback
    def async_set_status(self, status: GroupStatus) -> None:
        """Take the hub's status: add, rename or remove the group's device."""
        previous, self.status = self.status, status
        if status == previous:
            return
        if not status.in_group:
            self._today.clear()
            if previous.in_group:
                LOGGER.info("Hub %s is no longer in %s", self.hub_id, previous.group_name)
                if device := self._async_device():
                    dr.async_get(self.hass).async_remove_device(device.id)
        elif not previous.in_group:
            LOGGER.info("Hub %s is in the group %s", self.hub_id, status.group_name)
            for func in list(self._group_listeners):
                func()
        elif status.group_name != previous.group_name and (device := self._async_device()):
            dr.async_get(self.hass).async_update_device(device.id, name=status.group_name)
        self._async_fire_state()

    @callback
    def async_handle_post(self, post: NeighborPost) -> None:
        """A neighbor's post arrived: count it (if sent today) and fire it."""
        self._async_roll_day()
        if self._counts(post) and post.event_id not in self._today:
            self._today.add(post.event_id)
            self._async_fire_state()
        for func in list(self._post_listeners):
            func(post)

    # Internals -----------------------------------------------------------------------------

    def _counts(self, post: NeighborPost) -> bool:
        """A neighbor's post (not the hub's own) sent since local midnight."""
        sent = dt_util.utc_from_timestamp(post.sent_ms / 1000)
        return post.sender != self.status.user_id and sent >= self.day_start

    @callback
    def _async_new_day(self, now: datetime) -> None:
        self._async_roll_day()

    @callback
    def _async_roll_day(self) -> None:
        day_start = dt_util.start_of_local_day()
        if day_start == self.day_start:
            return
        self.day_start = day_start
        self._today.clear()
        self._async_fire_state()

    @callback
    def _async_fire_state(self) -> None:
        for func in list(self._state_listeners):
            func()

    @callback
    def _async_device(self) -> dr.DeviceEntry | None:
        return dr.async_get(self.hass).async_get_device_by_identifier(
            self.identifier, self.entry_id
        )


def _add[F](listeners: list[F], func: F) -> CALLBACK_TYPE:
    listeners.append(func)

    @callback
    def remove() -> None:
        listeners.remove(func)

    return remove
