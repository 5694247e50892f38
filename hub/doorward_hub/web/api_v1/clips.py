"""The clip routes of the hub API: list, fetch (with HTTP Range), thumbnail, delete, record."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from doorward_hub.models import ClipTrigger
from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.api_v1.doorbells import DOORBELL_ID, UNKNOWN
from doorward_hub.web.errors import ApiError, json_error
from doorward_hub.web.keys import CLIP_LIBRARY, CLIPS, DOORBELLS, RECORDER
from doorward_hub.web.operations import Body, Reply, Routes, choice, integer, number, string
from doorward_hub.web.requests import read_body
from doorward_hub.wire import bodies
from doorward_hub.wire.objects import MAX_ID, Clip, ClipPage, RecordingStarted, utc

if TYPE_CHECKING:
    from doorward_hub import models

MAX_CLIPS_PAGE = 500

CLIP_ID = integer("clip_id", "path", 1, MAX_ID, "the clip's id")
UNKNOWN_CLIP = Reply(404, "unknown clip (`unknown_clip`)")
DOORBELL = string("doorbell", "query", "only this doorbell's clips")
TRIGGER = choice("trigger", ClipTrigger, "only clips with this trigger")
SINCE = number("since", "clips ending at or after this time (Unix seconds)")
UNTIL = number("until", "clips starting at or before this time (Unix seconds)")
BEFORE = integer("before", "query", 1, MAX_ID, "clips with a smaller id (page: the last id seen)")
LIMIT = integer("limit", "query", 1, MAX_CLIPS_PAGE, "page size (default 100)")

_EMPTY_SUFFIX_RANGE = re.compile(r"\s*bytes\s*=\s*-0+\s*")
"""`Range: bytes=-0`: the last zero bytes, which no file can satisfy (RFC 9110 14.1.2)."""

routes = Routes(API_PREFIX)


def _satisfiable(request: web.Request, size: int) -> bool:
    """False for a `Range` that no byte of a `size`-byte file satisfies (RFC 9110 14.1.2): a
    malformed one, `bytes=-0`, or one starting past the end."""
    if "Range" not in request.headers:
        return True
    if _EMPTY_SUFFIX_RANGE.fullmatch(request.headers["Range"]):
        return False
    try:
        start = request.http_range.start
    except ValueError:
        return False
    return start is None or start < 0 or start < size


async def _clip(request: web.Request) -> models.Clip:
    clip_id = CLIP_ID.value(request, 0)
    clip = await request.config_dict[CLIPS].get_clip(clip_id)
    if clip is None:
        raise ApiError(404, "unknown_clip", f"no clip with id {clip_id}")
    return clip


@routes.get(
    "/clips",
    summary="A page of clips, newest first, filtered by doorbell, trigger and time",
    params=(DOORBELL, TRIGGER, SINCE, UNTIL, BEFORE, LIMIT),
    replies=(Reply(200, "the page", ClipPage), UNKNOWN),
)
async def list_clips(request: web.Request) -> web.Response:
    """A page of clips, newest first; page by passing the last id as `before`."""
    doorbell_id = DOORBELL.get(request)
    if doorbell_id is not None:
        request.config_dict[DOORBELLS].get(doorbell_id)
    limit = LIMIT.value(request, 100)
    clips = await request.config_dict[CLIPS].list_clips(
        doorbell_id=doorbell_id,
        trigger=TRIGGER.get(request),
        since=SINCE.get(request),
        until=UNTIL.get(request),
        before_id=BEFORE.value(request, MAX_ID),
        limit=limit + 1,
    )
    page = ClipPage([Clip.of(c) for c in clips[:limit]], more=len(clips) > limit)
    return web.json_response(page.to_dict())


@routes.get(
    "/clips/{clip_id}",
    summary="One clip",
    params=(CLIP_ID,),
    replies=(Reply(200, "the clip", Clip), UNKNOWN_CLIP),
)
async def get_clip(request: web.Request) -> web.Response:
    """One clip's index entry."""
    return web.json_response(Clip.of(await _clip(request)).to_dict())


@routes.get(
    "/clips/{clip_id}/video",
    summary="The clip: H.264 in fragmented MP4 (index first); HTTP Range requests are served",
    description="`?token=` works for players that cannot set headers.",
    params=(CLIP_ID,),
    query_token=True,
    replies=(
        Reply(200, "the MP4", "video/mp4"),
        Reply(206, "the requested range", "video/mp4"),
        UNKNOWN_CLIP,
        Reply(
            416,
            "the range lies outside the clip (`range_not_satisfiable`)",
            headers=("Content-Range",),
        ),
    ),
)
async def clip_video(request: web.Request) -> web.StreamResponse:
    """The clip's MP4 (HTTP Range requests supported)."""
    clip = await _clip(request)
    path = request.config_dict[CLIP_LIBRARY].path(clip.file_name)
    if not _satisfiable(request, clip.size):
        content_range = {"Content-Range": f"bytes */{clip.size}"}
        return json_error(
            416, "range_not_satisfiable", "the range lies outside the clip", content_range
        )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "video/mp4",
            "Content-Disposition": f'inline; filename="{clip.file_name}"',
            "Cache-Control": "private, max-age=86400",
        },
    )


@routes.get(
    "/clips/{clip_id}/thumbnail",
    summary="The keyframe nearest the trigger (made when first asked for, then kept)",
    params=(CLIP_ID,),
    replies=(
        Reply(200, "the JPEG", "image/jpeg"),
        Reply(404, "unknown clip (`unknown_clip`), or no frame of it decodes (`no_thumbnail`)"),
    ),
)
async def clip_thumbnail(request: web.Request) -> web.FileResponse:
    """The JPEG of the moment that triggered the clip."""
    clip = await _clip(request)
    path = await request.config_dict[CLIP_LIBRARY].thumbnail(clip)
    if path is None:
        raise ApiError(404, "no_thumbnail", f"clip {clip.id} has no thumbnail")
    return web.FileResponse(
        path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=86400"}
    )


@routes.delete(
    "/clips/{clip_id}",
    summary="Delete a clip and its thumbnail (logged)",
    params=(CLIP_ID,),
    replies=(Reply(204, "deleted"), UNKNOWN_CLIP),
)
async def delete_clip(request: web.Request) -> web.Response:
    """Delete a clip and its thumbnail."""
    clip = await _clip(request)
    await request.config_dict[CLIP_LIBRARY].delete(clip, "deleted through the API")
    return web.Response(status=204)


@routes.post(
    "/doorbells/{doorbell_id}/record",
    summary="Record a clip now: pre-roll plus `duration` seconds",
    params=(DOORBELL_ID,),
    body=Body(bodies.RECORD, "how long to record (the body may be left out)", required=False),
    replies=(
        Reply(202, "recording; a `clip` push message follows when it is stored", RecordingStarted),
        UNKNOWN,
        Reply(409, "no live video: offline, privacy mode, recording disabled, still connecting"),
    ),
)
async def record(request: web.Request) -> web.Response:
    """Record a clip now: pre-roll plus `duration` seconds."""
    doorbell_id = request.match_info["doorbell_id"]
    request.config_dict[DOORBELLS].get(doorbell_id)
    body = await read_body(request)
    start, end = request.config_dict[RECORDER].record(doorbell_id, body["duration"])
    started = RecordingStarted(doorbell_id, utc(start), utc(end))
    return web.json_response(started.to_dict(), status=202)
