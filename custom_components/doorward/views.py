"""Where clips live in Home Assistant: their media source ids, and the relays of own clips
and of neighbors' posts.

The browser (media browser, a notification's link) never talks to the hub and never sees the
hub's token: it asks Home Assistant, authenticated like every `/api` call (a bearer token, or
a path signed by `async_sign_path`, which Home Assistant adds when it hands a media source URL
to a player), and Home Assistant fetches the file from the hub with its token. HTTP Range
requests are relayed, so players can seek: the hub's `206`, `Content-Range` and
`Content-Length` come back unchanged.
"""

from datetime import date, timedelta
from http import HTTPStatus
from typing import Final
from urllib.parse import quote

import aiohttp
from aiohttp import hdrs, web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.http import HomeAssistantView
from homeassistant.util import dt as dt_util

from .api import Clip, DoorwardApiError, DoorwardError, DoorwardNotFoundError, NeighborPost
from .const import DOMAIN, LOGGER
from .data import DoorwardConfigEntry
from .errors import hub_error

CLIP_VIDEO: Final = "video"
CLIP_THUMBNAIL: Final = "thumbnail"
CLIP_URL: Final = "/api/doorward/clips/{entry_id}/{clip_id}/{kind}"
NEIGHBOR_POST_URL: Final = "/api/doorward/neighborhood/{entry_id}/{event_id}/{kind}"
# The media folder of the hub's group, next to its doorbells' (`~` is in no doorbell id).
NEIGHBORHOOD_FOLDER: Final = "~neighborhood"
# How long the signed links of a `neighbor_post` event work: a day, as media source links do.
SIGNED_LINK_LIFETIME: Final = timedelta(hours=24)
CHUNK_SIZE = 64 * 1024

# Request headers a player may send that the hub's file server understands.
FORWARDED_REQUEST_HEADERS = (hdrs.RANGE, hdrs.IF_RANGE)
# Answer headers relayed as the hub sent them (never its cookies or anything else).
RELAYED_RESPONSE_HEADERS = (
    hdrs.CONTENT_TYPE,
    hdrs.CONTENT_LENGTH,
    hdrs.CONTENT_RANGE,
    hdrs.ACCEPT_RANGES,
    hdrs.CONTENT_DISPOSITION,
    hdrs.LAST_MODIFIED,
    hdrs.ETAG,
)


def clip_day(clip: Clip) -> date:
    """The day (in Home Assistant's time zone) a clip belongs to: the day it starts."""
    return dt_util.as_local(clip.start).date()


def clip_identifier(entry_id: str, clip: Clip) -> str:
    """The media source identifier of a clip."""
    return f"{entry_id}/{clip.doorbell_id}/{clip_day(clip).isoformat()}/{clip.id}"


def clip_media_content_id(entry_id: str, clip: Clip) -> str:
    """The `media-source://` id of a clip (for `media_player.play_media`)."""
    return f"media-source://{DOMAIN}/{clip_identifier(entry_id, clip)}"


def clip_url(entry_id: str, clip_id: int, kind: str = CLIP_VIDEO) -> str:
    """The path at which Home Assistant serves a clip's MP4 (or its thumbnail)."""
    return CLIP_URL.format(entry_id=entry_id, clip_id=clip_id, kind=kind)


def neighbor_post_identifier(entry_id: str, event_id: str) -> str:
    """The media source identifier of a neighbor's post."""
    return f"{entry_id}/{NEIGHBORHOOD_FOLDER}/{event_id}"


def neighbor_post_url(entry_id: str, event_id: str, kind: str = CLIP_VIDEO) -> str:
    """The path at which Home Assistant serves a neighbor post's MP4 (or its thumbnail)."""
    return NEIGHBOR_POST_URL.format(
        entry_id=entry_id, event_id=quote(event_id, safe="$:@!"), kind=kind
    )


def signed_neighbor_post_urls(
    hass: HomeAssistant, entry_id: str, post: NeighborPost
) -> dict[str, str | None]:
    """The links of a post's video and thumbnail, signed (`?authSig=`) so that a browser or
    the companion app opening them from a notification needs no login; None when absent."""

    def signed(present: bool, kind: str) -> str | None:
        if not present:
            return None
        path = neighbor_post_url(entry_id, post.event_id, kind)
        return async_sign_path(hass, path, SIGNED_LINK_LIFETIME, use_content_user=True)

    return {
        "url": signed(post.has_video, CLIP_VIDEO),
        "thumbnail": signed(post.has_thumbnail, CLIP_THUMBNAIL),
    }


class _DoorwardRelayView(HomeAssistantView):
    """Relays a file of a loaded hub to an authenticated Home Assistant user."""

    requires_auth = True

    def __init__(self, hass: HomeAssistant) -> None:
        """Serve the files of every loaded Doorward hub."""
        self.hass = hass

    def _entry(self, entry_id: str) -> DoorwardConfigEntry | None:
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
            return None
        loaded: DoorwardConfigEntry = entry
        return loaded

    async def _relay_or_error(
        self, request: web.Request, entry: DoorwardConfigEntry, path: str, what: str
    ) -> web.StreamResponse:
        """Relay `path`; a hub error becomes 404, 416 or 502 (logged, translated)."""
        try:
            return await self._relay(request, entry, path)
        except DoorwardNotFoundError:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        except DoorwardError as err:
            if (
                isinstance(err, DoorwardApiError)
                and err.status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
            ):
                # A Range beyond the file: the player learns it as the hub said it.
                return web.Response(status=err.status)
            # Reported as every other caller reports it; a refused token starts reauth.
            error = hub_error(entry, err, "clip_relay_failed", {"clip_id": what})
            LOGGER.warning("%s", error)
        return web.Response(status=HTTPStatus.BAD_GATEWAY)

    async def _relay(
        self, request: web.Request, entry: DoorwardConfigEntry, path: str
    ) -> web.StreamResponse:
        headers = {
            str(name): value
            for name in FORWARDED_REQUEST_HEADERS
            if (value := request.headers.get(name)) is not None
        }
        async with entry.runtime_data.client.open_stream(path, headers) as hub:
            response = web.StreamResponse(status=hub.status)
            for name in RELAYED_RESPONSE_HEADERS:
                if (value := hub.headers.get(name)) is not None:
                    response.headers[name] = value
            response.headers[hdrs.CACHE_CONTROL] = "private, max-age=86400"
            await response.prepare(request)
            try:
                async for chunk in hub.content.iter_chunked(CHUNK_SIZE):
                    await response.write(chunk)
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as err:
                # The headers are out: end the connection, the player sees a short answer.
                LOGGER.debug("Relaying %s stopped: %r", path, err)
                response.force_close()
                return response
        await response.write_eof()
        return response


class DoorwardClipView(_DoorwardRelayView):
    """`GET /api/doorward/clips/{entry_id}/{clip_id}/{video|thumbnail}`, relayed from the hub."""

    url = CLIP_URL
    name = "api:doorward:clip"

    async def get(
        self, request: web.Request, entry_id: str, clip_id: str, kind: str
    ) -> web.StreamResponse:
        """Relay the file from the hub as it arrives."""
        entry = self._entry(entry_id)
        if entry is None or kind not in (CLIP_VIDEO, CLIP_THUMBNAIL) or not clip_id.isdecimal():
            return web.Response(status=HTTPStatus.NOT_FOUND)
        return await self._relay_or_error(request, entry, f"/clips/{int(clip_id)}/{kind}", clip_id)


class DoorwardNeighborPostView(_DoorwardRelayView):
    """`GET /api/doorward/neighborhood/{entry_id}/{event_id}/{video|thumbnail}`: a neighbor's
    post, relayed from the hub (which decrypted it and checked its manifest)."""

    url = NEIGHBOR_POST_URL
    name = "api:doorward:neighbor_post"

    async def get(
        self, request: web.Request, entry_id: str, event_id: str, kind: str
    ) -> web.StreamResponse:
        """Relay the file from the hub as it arrives."""
        entry = self._entry(entry_id)
        if entry is None or kind not in (CLIP_VIDEO, CLIP_THUMBNAIL) or not event_id:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        return await self._relay_or_error(
            request, entry, f"/neighborhood/posts/{event_id}/{kind}", event_id
        )
