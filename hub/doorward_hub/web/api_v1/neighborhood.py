"""The neighborhood routes of the hub API: the group this hub is in, its feed, sharing a clip.

Sharing is one call per human action on one clip (`POST /clips/{clip_id}/share`); nothing
shares on its own.
"""

from __future__ import annotations

from aiohttp import web

from doorward_hub.neighborhood.items import NeighborPost as FeedPost
from doorward_hub.neighborhood.service import NeighborhoodError, NeighborhoodService
from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.api_v1.auth import TOKEN_ID
from doorward_hub.web.api_v1.clips import CLIP_ID
from doorward_hub.web.errors import ApiError
from doorward_hub.web.keys import NEIGHBORHOOD
from doorward_hub.web.operations import Body, Reply, Routes, integer, string
from doorward_hub.web.requests import read_body
from doorward_hub.wire import bodies
from doorward_hub.wire.objects import (
    ClipShared,
    HomeCell,
    NeighborhoodStatus,
    NeighborPost,
    NeighborPostPage,
    NeighborThread,
)

MAX_POSTS_PAGE = 200

EVENT_ID = string("event_id", "path", "the post's Matrix event id")
LIMIT = integer("limit", "query", 1, MAX_POSTS_PAGE, "page size (default 50)")
NOT_JOINED = Reply(
    409,
    "not in a group (`not_joined`), removed from it (`removed`), or no home location "
    "(`no_home_location`)",
)
HOMESERVER = Reply(
    502,
    "the group's homeserver cannot be reached (`homeserver_unreachable`) or refused "
    "(`homeserver_refused`)",
)
UNKNOWN_POST = Reply(404, "unknown post (`unknown_post`)")
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

routes = Routes(API_PREFIX)


def _service(request: web.Request) -> NeighborhoodService:
    return request.config_dict[NEIGHBORHOOD]


def _actor(request: web.Request) -> str:
    return f"client:{request[TOKEN_ID]}"


def _api_error(err: NeighborhoodError) -> ApiError:
    return ApiError(_STATUS.get(err.code, 502), err.code, str(err))


@routes.get(
    "/neighborhood",
    summary="The neighborhood group this hub is in, if any",
    replies=(Reply(200, "the status", NeighborhoodStatus),),
)
async def neighborhood_status(request: web.Request) -> web.Response:
    """Whether this hub is in a group, which, and whether it was removed (and why)."""
    status = NeighborhoodStatus.from_dict(_service(request).status().to_json())
    return web.json_response(status.to_dict())


@routes.put(
    "/neighborhood/home",
    summary="Set the home location; only its H3 cell (resolution 8) is kept",
    body=Body(bodies.NEIGHBORHOOD_HOME, "the home location"),
    replies=(
        Reply(200, "the cell", HomeCell),
        Reply(400, "the body breaks its schema, or not a location (`invalid_location`)"),
    ),
)
async def set_neighborhood_home(request: web.Request) -> web.Response:
    """Set the home location; the hub keeps only its H3 cell at resolution 8."""
    body = await read_body(request)
    try:
        cell = await _service(request).set_home(body["latitude"], body["longitude"])
    except NeighborhoodError as err:
        raise _api_error(err) from err
    return web.json_response(HomeCell(cell).to_dict())


@routes.post(
    "/neighborhood/join",
    summary="Join the group of an invite (`doorward-invite:...`)",
    body=Body(bodies.NEIGHBORHOOD_JOIN, "the invite"),
    replies=(
        Reply(200, "joined", NeighborhoodStatus),
        Reply(
            400,
            "the body breaks its schema, `invalid_invite`, or `invite_rejected` (used, expired "
            "or withdrawn)",
        ),
        Reply(409, "already in a group (`already_joined`)"),
        HOMESERVER,
        Reply(503, "the neighborhood is not ready yet (`not_ready`)"),
    ),
)
async def join_neighborhood(request: web.Request) -> web.Response:
    """Join the group of a pasted invite."""
    body = await read_body(request)
    try:
        joined = await _service(request).join(body["invite"], _actor(request))
    except NeighborhoodError as err:
        raise _api_error(err) from err
    return web.json_response(NeighborhoodStatus.from_dict(joined.to_json()).to_dict())


@routes.post(
    "/neighborhood/leave",
    summary="Leave the group: the Matrix device, its keys and received clips go",
    replies=(Reply(204, "left"), NOT_JOINED, HOMESERVER),
)
async def leave_neighborhood(request: web.Request) -> web.Response:
    """Leave the group: the Matrix device, its keys and the group's received clips go."""
    try:
        await _service(request).leave(_actor(request))
    except NeighborhoodError as err:
        raise _api_error(err) from err
    return web.Response(status=204)


@routes.get(
    "/neighborhood/posts",
    summary="The group's posts, newest first",
    params=(LIMIT,),
    replies=(Reply(200, "the posts", NeighborPostPage),),
)
async def neighborhood_posts(request: web.Request) -> web.Response:
    """Neighbors' posts, newest first."""
    found = await _service(request).posts(LIMIT.value(request, 50))
    page = NeighborPostPage([NeighborPost.from_dict(post.to_json()) for post in found])
    return web.json_response(page.to_dict())


async def _post(request: web.Request) -> FeedPost:
    event_id = EVENT_ID.value(request, "")
    post = await _service(request).post(event_id)
    if post is None:
        raise ApiError(404, "unknown_post", f"no post {event_id!r}")
    return post


@routes.get(
    "/neighborhood/posts/{event_id}",
    summary="One post and its comments",
    params=(EVENT_ID,),
    replies=(Reply(200, "the post and its comments", NeighborThread), UNKNOWN_POST),
)
async def neighborhood_post(request: web.Request) -> web.Response:
    """One post and its comments."""
    found = await _post(request)
    comments = await _service(request).comments(found.event_id)
    thread = found.to_json() | {
        "comments": [
            {"event_id": c.event_id, "sender": c.sender, "sent_ms": c.sent_ms, "body": c.body}
            for c in comments
        ]
    }
    return web.json_response(NeighborThread.from_dict(thread).to_dict())


async def _media(request: web.Request, name: str | None, content_type: str) -> web.FileResponse:
    path = _service(request).media_path(name) if name else None
    if path is None or not path.exists():
        raise ApiError(404, "no_media", "this post has no such file (or it expired)")
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "private, max-age=3600"}
    )


@routes.get(
    "/neighborhood/posts/{event_id}/video",
    summary="The post's decrypted clip; HTTP Range requests are served",
    params=(EVENT_ID,),
    replies=(
        Reply(200, "the MP4", "video/mp4"),
        Reply(206, "the requested range", "video/mp4"),
        Reply(404, "unknown post (`unknown_post`), or no clip (`no_media`: none, or expired)"),
        Reply(416, "the range lies outside the clip", headers=("Content-Range",)),
    ),
)
async def neighborhood_post_video(request: web.Request) -> web.FileResponse:
    """The post's decrypted clip (HTTP Range requests supported)."""
    return await _media(request, (await _post(request)).video_file, "video/mp4")


@routes.get(
    "/neighborhood/posts/{event_id}/thumbnail",
    summary="The post's decrypted thumbnail",
    params=(EVENT_ID,),
    replies=(
        Reply(200, "the JPEG", "image/jpeg"),
        Reply(404, "unknown post (`unknown_post`), or no thumbnail (`no_media`)"),
    ),
)
async def neighborhood_post_thumbnail(request: web.Request) -> web.FileResponse:
    """The post's decrypted thumbnail."""
    return await _media(request, (await _post(request)).thumbnail_file, "image/jpeg")


@routes.post(
    "/clips/{clip_id}/share",
    summary="Share this clip with the neighborhood group: one call is one person's decision "
    "about one clip",
    params=(CLIP_ID,),
    body=Body(bodies.SHARE, "what the neighbors read with the clip", required=False),
    replies=(
        Reply(201, "shared", ClipShared),
        Reply(404, "unknown clip (`clip_not_found`)"),
        NOT_JOINED,
        HOMESERVER,
        Reply(503, "the hub has not reached the homeserver yet (`not_ready`)"),
    ),
)
async def share_clip(request: web.Request) -> web.Response:
    """Share one clip with the group: one call is one person's decision about this clip."""
    body = await read_body(request)
    try:
        result = await _service(request).share_clip(
            str(CLIP_ID.value(request, 0)), body["message"], _actor(request)
        )
    except NeighborhoodError as err:
        raise _api_error(err) from err
    shared = ClipShared(export_id=result.export_id, event_id=result.reference)
    return web.json_response(shared.to_dict(), status=201)
