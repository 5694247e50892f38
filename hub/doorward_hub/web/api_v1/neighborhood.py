"""The neighborhood routes of the hub API: the group this hub is in, its feed, sharing a clip.

Sharing is one call per human action on one clip (`POST /clips/{clip_id}/share`); nothing
shares on its own.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from doorward_hub.neighborhood.feed import NeighborPost
from doorward_hub.neighborhood.posts import MAX_MESSAGE_LENGTH
from doorward_hub.neighborhood.service import NeighborhoodError, NeighborhoodService
from doorward_hub.web.api_v1.auth import TOKEN_ID
from doorward_hub.web.errors import ApiError
from doorward_hub.web.keys import NEIGHBORHOOD
from doorward_hub.web.requests import int_query, number, read_json

MAX_POSTS_PAGE = 200
MAX_INVITE_LENGTH = 4096
JOIN_SCHEMA = vol.Schema(
    {vol.Required("invite"): vol.All(str, vol.Length(min=1, max=MAX_INVITE_LENGTH))}
)
HOME_SCHEMA = vol.Schema(
    {
        vol.Required("latitude"): vol.All(number, vol.Range(min=-90, max=90)),
        vol.Required("longitude"): vol.All(number, vol.Range(min=-180, max=180)),
    }
)
SHARE_SCHEMA = vol.Schema(
    {vol.Optional("message", default=""): vol.All(str, vol.Length(max=MAX_MESSAGE_LENGTH))}
)
_STATUS = {
    "invalid_invite": 400,
    "invalid_location": 400,
    "invite_rejected": 400,
    "clip_not_found": 404,
    "not_joined": 409,
    "already_joined": 409,
    "no_home_location": 409,
    "removed": 409,
    "homeserver_unreachable": 502,
    "homeserver_refused": 502,
    "not_ready": 503,
}

routes = web.RouteTableDef()


def _service(request: web.Request) -> NeighborhoodService:
    return request.config_dict[NEIGHBORHOOD]


def _actor(request: web.Request) -> str:
    return f"client:{request[TOKEN_ID]}"


def _api_error(err: NeighborhoodError) -> ApiError:
    return ApiError(_STATUS.get(err.code, 502), err.code, str(err))


@routes.get("/neighborhood")
async def status(request: web.Request) -> web.Response:
    """Whether this hub is in a group, which, and whether it was removed (and why)."""
    return web.json_response(_service(request).status().to_json())


@routes.put("/neighborhood/home")
async def set_home(request: web.Request) -> web.Response:
    """Set the home location; the hub keeps only its H3 cell at resolution 8."""
    body = await read_json(request, HOME_SCHEMA)
    try:
        cell = await _service(request).set_home(body["latitude"], body["longitude"])
    except NeighborhoodError as err:
        raise _api_error(err) from err
    return web.json_response({"home_cell": cell})


@routes.post("/neighborhood/join")
async def join(request: web.Request) -> web.Response:
    """Join the group of a pasted invite."""
    body = await read_json(request, JOIN_SCHEMA)
    try:
        joined = await _service(request).join(body["invite"], _actor(request))
    except NeighborhoodError as err:
        raise _api_error(err) from err
    return web.json_response(joined.to_json())


@routes.post("/neighborhood/leave")
async def leave(request: web.Request) -> web.Response:
    """Leave the group: the Matrix device, its keys and the group's received clips go."""
    try:
        await _service(request).leave(_actor(request))
    except NeighborhoodError as err:
        raise _api_error(err) from err
    return web.Response(status=204)


@routes.get("/neighborhood/posts")
async def posts(request: web.Request) -> web.Response:
    """Neighbors' posts, newest first."""
    limit = int_query(request, "limit", 50, 1, MAX_POSTS_PAGE)
    found = await _service(request).posts(limit)
    return web.json_response({"posts": [post.to_json() for post in found]})


async def _post(request: web.Request) -> NeighborPost:
    event_id = request.match_info["event_id"]
    post = await _service(request).post(event_id)
    if post is None:
        raise ApiError(404, "unknown_post", f"no post {event_id!r}")
    return post


@routes.get("/neighborhood/posts/{event_id}")
async def post(request: web.Request) -> web.Response:
    """One post and its comments."""
    found = await _post(request)
    comments = await _service(request).comments(found.event_id)
    body: dict[str, Any] = found.to_json()
    body["comments"] = [
        {"event_id": c.event_id, "sender": c.sender, "sent_ms": c.sent_ms, "body": c.body}
        for c in comments
    ]
    return web.json_response(body)


async def _media(request: web.Request, name: str | None, content_type: str) -> web.FileResponse:
    path = _service(request).media_path(name) if name else None
    if path is None or not path.exists():
        raise ApiError(404, "no_media", "this post has no such file (or it expired)")
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "private, max-age=3600"}
    )


@routes.get("/neighborhood/posts/{event_id}/video")
async def post_video(request: web.Request) -> web.FileResponse:
    """The post's decrypted clip (HTTP Range requests supported)."""
    return await _media(request, (await _post(request)).video_file, "video/mp4")


@routes.get("/neighborhood/posts/{event_id}/thumbnail")
async def post_thumbnail(request: web.Request) -> web.FileResponse:
    """The post's decrypted thumbnail."""
    return await _media(request, (await _post(request)).thumbnail_file, "image/jpeg")


@routes.post("/clips/{clip_id}/share")
async def share(request: web.Request) -> web.Response:
    """Share one clip with the group: one call is one person's decision about this clip."""
    body = await read_json(request, SHARE_SCHEMA) if request.can_read_body else SHARE_SCHEMA({})
    try:
        result = await _service(request).share_clip(
            request.match_info["clip_id"], body["message"], _actor(request)
        )
    except NeighborhoodError as err:
        raise _api_error(err) from err
    return web.json_response(
        {"export_id": result.export_id, "event_id": result.reference}, status=201
    )
