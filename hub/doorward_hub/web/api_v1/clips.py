"""The clip routes of the hub API: list, fetch (with HTTP Range), thumbnail, delete, record."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import voluptuous as vol
from aiohttp import web

from doorward_hub.models import ClipTrigger, iso_time
from doorward_hub.web.errors import ApiError
from doorward_hub.web.keys import CLIP_LIBRARY, CLIPS, DOORBELLS, RECORDER
from doorward_hub.web.requests import int_query, number, read_json

if TYPE_CHECKING:
    from doorward_hub.models import Clip

MAX_CLIPS_PAGE = 500
MAX_MANUAL_SECONDS = 300.0
RECORD_SCHEMA = vol.Schema(
    {
        vol.Optional("duration", default=10.0): vol.All(
            number, vol.Range(min=1, max=MAX_MANUAL_SECONDS)
        )
    }
)

routes = web.RouteTableDef()


def _time_query(request: web.Request, key: str) -> float | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ApiError(400, "invalid_request", f"{key}: must be a time in Unix seconds")
    return value


async def _clip(request: web.Request) -> Clip:
    try:
        clip_id = int(request.match_info["clip_id"])
    except ValueError:
        raise ApiError(400, "invalid_request", "clip_id: must be an integer") from None
    clip = await request.config_dict[CLIPS].get_clip(clip_id)
    if clip is None:
        raise ApiError(404, "unknown_clip", f"no clip with id {clip_id}")
    return clip


@routes.get("/clips")
async def list_clips(request: web.Request) -> web.Response:
    """A page of clips, newest first, filtered by doorbell, trigger and time."""
    doorbell_id = request.query.get("doorbell")
    if doorbell_id is not None:
        request.config_dict[DOORBELLS].get(doorbell_id)
    trigger = request.query.get("trigger")
    if trigger is not None and trigger not in ClipTrigger:
        choices = ", ".join(t.value for t in ClipTrigger)
        raise ApiError(400, "invalid_request", f"trigger: must be one of {choices}")
    limit = int_query(request, "limit", 100, 1, MAX_CLIPS_PAGE)
    before = int_query(request, "before", 2**62, 1, 2**62)
    clips = await request.config_dict[CLIPS].list_clips(
        doorbell_id=doorbell_id,
        trigger=ClipTrigger(trigger) if trigger else None,
        since=_time_query(request, "since"),
        until=_time_query(request, "until"),
        before_id=before,
        limit=limit + 1,
    )
    return web.json_response(
        {"clips": [c.to_json() for c in clips[:limit]], "more": len(clips) > limit}
    )


@routes.get("/clips/{clip_id}")
async def get_clip(request: web.Request) -> web.Response:
    """One clip's index entry."""
    return web.json_response((await _clip(request)).to_json())


@routes.get("/clips/{clip_id}/video")
async def clip_video(request: web.Request) -> web.FileResponse:
    """The clip's MP4 (HTTP Range requests supported)."""
    clip = await _clip(request)
    path = request.config_dict[CLIP_LIBRARY].path(clip.file_name)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "video/mp4",
            "Content-Disposition": f'inline; filename="{clip.file_name}"',
            "Cache-Control": "private, max-age=86400",
        },
    )


@routes.get("/clips/{clip_id}/thumbnail")
async def clip_thumbnail(request: web.Request) -> web.FileResponse:
    """The JPEG of the moment that triggered the clip."""
    clip = await _clip(request)
    path = request.config_dict[CLIP_LIBRARY].path(clip.thumbnail_name)
    if not path.exists():
        raise ApiError(404, "no_thumbnail", f"clip {clip.id} has no thumbnail")
    return web.FileResponse(
        path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=86400"}
    )


@routes.delete("/clips/{clip_id}")
async def delete_clip(request: web.Request) -> web.Response:
    """Delete a clip and its thumbnail."""
    clip = await _clip(request)
    await request.config_dict[CLIP_LIBRARY].delete(clip, "deleted through the API")
    return web.Response(status=204)


@routes.post("/doorbells/{doorbell_id}/record")
async def record(request: web.Request) -> web.Response:
    """Record a clip now: pre-roll plus `duration` seconds."""
    doorbell_id = request.match_info["doorbell_id"]
    request.config_dict[DOORBELLS].get(doorbell_id)
    body = await read_json(request, RECORD_SCHEMA) if request.can_read_body else RECORD_SCHEMA({})
    start, end = request.config_dict[RECORDER].record(doorbell_id, body["duration"])
    return web.json_response(
        {"doorbell_id": doorbell_id, "start": iso_time(start), "end": iso_time(end)}, status=202
    )
