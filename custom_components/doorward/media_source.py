"""The hubs' clips in Home Assistant's media browser: hub → doorbell → day → clip, and next to
the doorbells the hub's neighborhood group → neighbors' posts.

Identifiers (after `media-source://doorward/`):
`<entry id>`, `<entry id>/<doorbell id>`, `<entry id>/<doorbell id>/<YYYY-MM-DD>` and
`<entry id>/<doorbell id>/<YYYY-MM-DD>/<clip id>`; `<entry id>/~neighborhood` and
`<entry id>/~neighborhood/<event id>`. Days are in Home Assistant's time zone; a clip belongs
to the day it starts. Clips and posts resolve to Home Assistant's relays (`views.py`), never to
the hub: the browser and the players never see the hub's token. A post's title says what the
neighbor wrote, when, how far away, and "unverified" unless the hub verified its manifest.
"""

from datetime import date, datetime, timedelta

from homeassistant.components.media_player.const import MediaClass, MediaType
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from .api import Clip, DoorwardError, DoorwardNotFoundError, NeighborPost
from .const import CLIP_TRIGGER_MANUAL, CLIP_TRIGGER_MOTION, CLIP_TRIGGER_PRESS, DOMAIN
from .data import DoorwardConfigEntry
from .errors import hub_error
from .views import (
    CLIP_THUMBNAIL,
    NEIGHBORHOOD_FOLDER,
    clip_day,
    clip_identifier,
    clip_url,
    neighbor_post_identifier,
    neighbor_post_url,
)

MIME_TYPE = "video/mp4"
# Clip titles name what started the clip; the browser shows them as they are.
TRIGGER_TITLES = {
    CLIP_TRIGGER_PRESS: "Ring",
    CLIP_TRIGGER_MOTION: "Motion",
    CLIP_TRIGGER_MANUAL: "Manual recording",
}
# The neighbors' posts listed under the group (the hub keeps them for its retention period).
NEIGHBOR_POSTS_LIMIT = 200
UNVERIFIED = "unverified"


async def async_get_media_source(hass: HomeAssistant) -> MediaSource:
    """The Doorward media source."""
    return DoorwardMediaSource(hass)


def _unknown_media[E: HomeAssistantError](error: type[E], item: MediaSourceItem) -> E:
    return error(
        translation_domain=DOMAIN,
        translation_key="unknown_media",
        translation_placeholders={"identifier": item.identifier},
    )


def _media_error(
    error: type[HomeAssistantError],
    entry: DoorwardConfigEntry,
    err: DoorwardError,
    item: MediaSourceItem,
) -> HomeAssistantError:
    return hub_error(entry, err, "media_failed", {"identifier": item.identifier}, error=error)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = dt_util.start_of_local_day(day)
    return start, dt_util.start_of_local_day(day + timedelta(days=1))


class DoorwardMediaSource(MediaSource):
    """Browse and play the clips the Doorward hubs recorded."""

    name = "Doorward"

    def __init__(self, hass: HomeAssistant) -> None:
        """Serve every loaded Doorward hub."""
        super().__init__(DOMAIN)
        self.hass = hass

    def _entries(self) -> list[DoorwardConfigEntry]:
        return sorted(
            (
                entry
                for entry in self.hass.config_entries.async_entries(DOMAIN)
                if entry.state is ConfigEntryState.LOADED
            ),
            key=lambda entry: entry.title,
        )

    def _entry(self, entry_id: str, exc: type[BrowseError | Unresolvable]) -> DoorwardConfigEntry:
        for entry in self._entries():
            if entry.entry_id == entry_id:
                return entry
        raise exc(
            translation_domain=DOMAIN,
            translation_key="hub_not_loaded",
            translation_placeholders={"entry_id": entry_id},
        )

    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        """A clip's (or neighbor post's) MP4, served by Home Assistant's authenticated relay."""
        parts = item.identifier.split("/")
        if len(parts) == 3 and parts[1] == NEIGHBORHOOD_FOLDER:
            return await self._resolve_neighbor_post(item, parts[0], parts[2])
        if len(parts) != 4 or not parts[3].isdecimal():
            raise _unknown_media(Unresolvable, item)
        entry = self._entry(parts[0], Unresolvable)
        try:
            clip = await entry.runtime_data.client.clip(int(parts[3]))
        except DoorwardNotFoundError as err:
            raise _unknown_media(Unresolvable, item) from err
        except DoorwardError as err:
            raise _media_error(Unresolvable, entry, err, item) from err
        return PlayMedia(clip_url(entry.entry_id, clip.id), MIME_TYPE)

    async def _resolve_neighbor_post(
        self, item: MediaSourceItem, entry_id: str, event_id: str
    ) -> PlayMedia:
        entry = self._entry(entry_id, Unresolvable)
        try:
            post = await entry.runtime_data.client.neighbor_post(event_id)
        except DoorwardNotFoundError as err:
            raise _unknown_media(Unresolvable, item) from err
        except DoorwardError as err:
            raise _media_error(Unresolvable, entry, err, item) from err
        if not post.has_video:  # a text post, or retention removed its clip
            raise _unknown_media(Unresolvable, item)
        return PlayMedia(neighbor_post_url(entry.entry_id, post.event_id), MIME_TYPE)

    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        """The hubs, a hub's doorbells, a doorbell's days, a day's clips (newest first)."""
        if not item.identifier:
            return self._browse_root()
        parts = item.identifier.split("/")
        entry = self._entry(parts[0], BrowseError)
        try:
            match parts:
                case [_]:
                    return self._browse_hub(entry)
                case [_, folder, *post] if folder == NEIGHBORHOOD_FOLDER:
                    return await self._browse_neighborhood(entry, post)
                case [_, doorbell_id]:
                    return await self._browse_doorbell(entry, doorbell_id)
                case [_, doorbell_id, day]:
                    return await self._browse_day(entry, doorbell_id, date.fromisoformat(day))
                case [_, _, _, clip_id]:
                    clip = await entry.runtime_data.client.clip(int(clip_id))
                    return self._clip_item(entry, clip)
        except (ValueError, DoorwardNotFoundError) as err:
            raise _unknown_media(BrowseError, item) from err
        except DoorwardError as err:
            raise _media_error(BrowseError, entry, err, item) from err
        raise _unknown_media(BrowseError, item)

    def _directory(
        self,
        identifier: str | None,
        title: str,
        children: list[BrowseMediaSource],
        *,
        children_class: MediaClass = MediaClass.DIRECTORY,
        thumbnail: str | None = None,
    ) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier,
            media_class=MediaClass.DIRECTORY,
            media_content_type=MediaType.VIDEO,
            title=title,
            can_play=False,
            can_expand=True,
            children=children,
            children_media_class=children_class,
            thumbnail=thumbnail,
        )

    def _browse_root(self) -> BrowseMediaSource:
        hubs = [self._directory(entry.entry_id, entry.title, []) for entry in self._entries()]
        return self._directory(None, self.name or DOMAIN, hubs)

    def _browse_hub(self, entry: DoorwardConfigEntry) -> BrowseMediaSource:
        doorbells = sorted(entry.runtime_data.doorbells.values(), key=lambda d: d.name)
        children = [
            self._directory(f"{entry.entry_id}/{doorbell.id}", doorbell.name, [])
            for doorbell in doorbells
        ]
        status = entry.runtime_data.neighborhood.status
        if status.in_group:
            children.append(
                self._directory(
                    f"{entry.entry_id}/{NEIGHBORHOOD_FOLDER}",
                    f"Neighborhood: {status.group_name}",
                    [],
                    children_class=MediaClass.VIDEO,
                )
            )
        return self._directory(entry.entry_id, entry.title, children)

    async def _browse_neighborhood(
        self, entry: DoorwardConfigEntry, post: list[str]
    ) -> BrowseMediaSource:
        """The group's posts with a clip (newest first), or one of them."""
        status = entry.runtime_data.neighborhood.status
        if not status.in_group or len(post) > 1:
            raise ValueError("no such neighborhood folder")
        if post:
            return self._post_item(entry, await entry.runtime_data.client.neighbor_post(post[0]))
        posts = await entry.runtime_data.client.neighbor_posts(NEIGHBOR_POSTS_LIMIT)
        children = [self._post_item(entry, post) for post in posts if post.has_video]
        return self._directory(
            f"{entry.entry_id}/{NEIGHBORHOOD_FOLDER}",
            f"Neighborhood: {status.group_name}",
            children,
            children_class=MediaClass.VIDEO,
        )

    def _post_item(self, entry: DoorwardConfigEntry, post: NeighborPost) -> BrowseMediaSource:
        if not post.has_video:
            raise ValueError("a post without a clip")
        sent = dt_util.as_local(dt_util.utc_from_timestamp(post.sent_ms / 1000))
        text = post.message or post.body.split("\n", 1)[0]
        where = (
            f"{post.cells_from_home} cells away"
            if post.cells_from_home is not None
            else "distance unknown"
        )
        title = f"{sent:%Y-%m-%d %H:%M} {text} ({where})"
        if not post.verified:
            title = f"{title} ({UNVERIFIED})"
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=neighbor_post_identifier(entry.entry_id, post.event_id),
            media_class=MediaClass.VIDEO,
            media_content_type=MIME_TYPE,
            title=title,
            can_play=True,
            can_expand=False,
            thumbnail=(
                neighbor_post_url(entry.entry_id, post.event_id, CLIP_THUMBNAIL)
                if post.has_thumbnail
                else None
            ),
        )

    def _doorbell_name(self, entry: DoorwardConfigEntry, doorbell_id: str) -> str:
        doorbell = entry.runtime_data.doorbells.get(doorbell_id)
        return doorbell.name if doorbell is not None else doorbell_id

    async def _browse_doorbell(
        self, entry: DoorwardConfigEntry, doorbell_id: str
    ) -> BrowseMediaSource:
        clips = await entry.runtime_data.client.all_clips(doorbell_id)
        days: dict[date, list[Clip]] = {}
        for clip in clips:  # newest first, and so are the days
            days.setdefault(clip_day(clip), []).append(clip)
        children = [
            self._directory(
                f"{entry.entry_id}/{doorbell_id}/{day.isoformat()}",
                day.isoformat(),
                [],
                children_class=MediaClass.VIDEO,
                thumbnail=clip_url(entry.entry_id, day_clips[0].id, CLIP_THUMBNAIL),
            )
            for day, day_clips in days.items()
        ]
        return self._directory(
            f"{entry.entry_id}/{doorbell_id}", self._doorbell_name(entry, doorbell_id), children
        )

    async def _browse_day(
        self, entry: DoorwardConfigEntry, doorbell_id: str, day: date
    ) -> BrowseMediaSource:
        start, end = _day_bounds(day)
        clips = await entry.runtime_data.client.all_clips(
            doorbell_id, since=start.timestamp(), until=end.timestamp()
        )
        children = [self._clip_item(entry, clip) for clip in clips if clip_day(clip) == day]
        return self._directory(
            f"{entry.entry_id}/{doorbell_id}/{day.isoformat()}",
            f"{self._doorbell_name(entry, doorbell_id)} {day.isoformat()}",
            children,
            children_class=MediaClass.VIDEO,
        )

    def _clip_item(self, entry: DoorwardConfigEntry, clip: Clip) -> BrowseMediaSource:
        started = dt_util.as_local(clip.start).strftime("%H:%M:%S")
        trigger = TRIGGER_TITLES.get(clip.trigger, clip.trigger)
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=clip_identifier(entry.entry_id, clip),
            media_class=MediaClass.VIDEO,
            media_content_type=MIME_TYPE,
            title=f"{started} {trigger} ({clip.duration:.0f} s)",
            can_play=True,
            can_expand=False,
            thumbnail=clip_url(entry.entry_id, clip.id, CLIP_THUMBNAIL),
        )
