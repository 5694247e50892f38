"""The hub's REST API (`/api/v1`): JSON errors, bearer-token auth, doorbells, events, pairing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NoReturn

import aiohttp
import voluptuous as vol
from aiohttp import web

from . import __version__
from .api_common import API, HUB_KEY, TOKEN_ID_KEY, ApiError, int_query, number, read_json
from .clips_api import routes as clip_routes
from .credentials_api import PUBLIC_ROUTES
from .credentials_api import routes as credential_routes
from .doorbells import DoorbellUnavailable, UnknownDoorbell
from .openapi import openapi_document
from .websocket import websocket_handler

if TYPE_CHECKING:
    from .hub import Hub

_LOGGER = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({f"{API}/info", f"{API}/pair", f"{API}/openapi.json"})
MAX_EVENTS_PAGE = 500

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, error: str, message: str) -> web.Response:
    """An error answer in the API's one format."""
    return web.json_response({"error": error, "message": message}, status=status)


def _raise(status: int, error: str, message: str) -> NoReturn:
    raise ApiError(status, error, message)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes `{"error", "message"}` JSON; nothing escapes as a traceback."""
    try:
        return await handler(request)
    except ApiError as err:
        return json_error(err.status, err.error, err.message)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            err.status, "http_error"
        )
        return json_error(err.status, code, err.reason)
    except UnknownDoorbell as err:
        return json_error(404, "unknown_doorbell", f"no doorbell with id {err.args[0]!r}")
    except DoorbellUnavailable as err:
        return json_error(409, "doorbell_unavailable", str(err))
    except Exception:
        _LOGGER.exception("Request failed", extra={"path": request.path})
        return json_error(500, "internal_error", "the hub failed to answer; see its log")


def bearer_token(request: web.Request) -> str | None:
    """The client's token: `Authorization: Bearer`, or `?token=` for WebSocket/video clients."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token") or None


def is_public(request: web.Request) -> bool:
    """Info, pair, the OpenAPI document, and the routes whose template is in `PUBLIC_ROUTES`
    (matched by the route the request resolved to, so no other path can pass as one)."""
    if request.path in PUBLIC_PATHS:
        return True
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical in PUBLIC_ROUTES


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API call but info, pair and the OpenAPI document needs a valid token."""
    if is_public(request) or not request.path.startswith(API + "/"):
        return await handler(request)
    token = bearer_token(request)
    token_id = await request.app[HUB_KEY].tokens.verify(token) if token else None
    if token_id is None:
        _raise(401, "unauthorized", "a valid token is required (Authorization: Bearer <token>)")
    request[TOKEN_ID_KEY] = token_id
    return await handler(request)


PAIR_SCHEMA = vol.Schema(
    {
        vol.Required("code"): str,
        vol.Optional("client_name", default="client"): vol.All(str, vol.Length(1, 100)),
    }
)
DOORBELL_PATCH_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): vol.All(str, vol.Length(1, 64)),
        vol.Optional("privacy_mode"): bool,
        vol.Optional("record_audio"): bool,
        vol.Optional("retention_days"): vol.All(number, vol.Range(min=0, max=3650)),
    }
)

routes = web.RouteTableDef()


@routes.get(f"{API}/info")
async def get_info(request: web.Request) -> web.Response:
    """Hub identity (public: the same facts the mDNS record carries)."""
    hub = request.app[HUB_KEY]
    return web.json_response(
        {"hub_id": hub.hub_id, "name": hub.config.name, "version": __version__, "api_version": 1}
    )


@routes.get(f"{API}/openapi.json")
async def get_openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API."""
    return web.json_response(openapi_document(__version__))


@routes.post(f"{API}/pair")
async def pair(request: web.Request) -> web.Response:
    """Exchange a one-time pairing code for a token."""
    hub = request.app[HUB_KEY]
    body = await read_json(request, PAIR_SCHEMA)
    issued = await hub.pairing.redeem(body["code"], body["client_name"])
    if issued is None:
        _raise(401, "invalid_code", "the pairing code is wrong, used or expired")
    hub.tokens.add(issued)
    return web.json_response(
        {"token": issued.token, "token_id": issued.token_id, "hub_id": hub.hub_id}
    )


@routes.get(f"{API}/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    """Every valid client token (never the secrets)."""
    tokens = await request.app[HUB_KEY].store.list_tokens()
    return web.json_response({"tokens": [t.to_json() for t in tokens]})


@routes.delete(API + "/tokens/{token_id}")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token and close the WebSockets that use it."""
    hub = request.app[HUB_KEY]
    token_id = request.match_info["token_id"]
    if not await hub.tokens.revoke(token_id):
        _raise(404, "unknown_token", f"no token with id {token_id!r}")
    hub.bus.close_token(token_id, 4001, "token revoked")
    _LOGGER.info("Revoked a token", extra={"token_id": token_id})
    return web.Response(status=204)


@routes.get(f"{API}/doorbells")
async def list_doorbells(request: web.Request) -> web.Response:
    """Every doorbell the hub knows."""
    doorbells = request.app[HUB_KEY].doorbells.doorbells.values()
    return web.json_response({"doorbells": [d.to_json() for d in doorbells]})


@routes.get(API + "/doorbells/{doorbell_id}")
async def get_doorbell(request: web.Request) -> web.Response:
    """One doorbell."""
    doorbell = request.app[HUB_KEY].doorbells.get(request.match_info["doorbell_id"])
    return web.json_response(doorbell.to_json())


@routes.patch(API + "/doorbells/{doorbell_id}")
async def patch_doorbell(request: web.Request) -> web.Response:
    """Rename a doorbell, switch its privacy mode or change its recording settings."""
    manager = request.app[HUB_KEY].doorbells
    doorbell_id = request.match_info["doorbell_id"]
    manager.get(doorbell_id)  # 404 before 400: the doorbell is what the caller got wrong first
    body = await read_json(request, DOORBELL_PATCH_SCHEMA)
    doorbell = await manager.update(doorbell_id, **body)
    return web.json_response(doorbell.to_json())


@routes.post(API + "/doorbells/{doorbell_id}/approve")
async def approve_doorbell(request: web.Request) -> web.Response:
    """Adopt a doorbell that waits for approval."""
    doorbell = await request.app[HUB_KEY].doorbells.approve(request.match_info["doorbell_id"])
    return web.json_response(doorbell.to_json())


@routes.delete(API + "/doorbells/{doorbell_id}")
async def forget_doorbell(request: web.Request) -> web.Response:
    """Disconnect, unpair and forget a doorbell."""
    await request.app[HUB_KEY].doorbells.forget(request.match_info["doorbell_id"])
    return web.Response(status=204)


@routes.get(API + "/doorbells/{doorbell_id}/snapshot")
async def doorbell_snapshot(request: web.Request) -> web.Response:
    """The doorbell's current picture."""
    jpeg = await request.app[HUB_KEY].doorbells.snapshot(request.match_info["doorbell_id"])
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


@routes.get(API + "/doorbells/{doorbell_id}/video")
async def doorbell_video(request: web.Request) -> web.StreamResponse:
    """The doorbell's live video, relayed as the device sends it."""
    hub = request.app[HUB_KEY]
    doorbell_id = request.match_info["doorbell_id"]
    source = hub.doorbells.video_source(doorbell_id)
    stream = hub.recorder.streams.get(doorbell_id)
    if stream is not None and (viewer := stream.watch()) is not None:
        # Devices serve few streams at once: share the one the recorder reads.
        try:
            return await relay_shared_stream(request, stream.content_type or "", viewer)
        finally:
            stream.unwatch(viewer)
    try:
        upstream = await hub.session.get(
            source.url, headers=dict(source.headers), timeout=aiohttp.ClientTimeout(sock_connect=10)
        )
    except (aiohttp.ClientError, TimeoutError) as err:
        raise DoorbellUnavailable(f"video not reachable: {err!r}") from err
    async with upstream:
        if upstream.status != 200:
            raise DoorbellUnavailable(source.refusal(upstream.status))
        response = web.StreamResponse(
            headers={
                # The device's own type: an MJPEG stream's names its part boundary.
                "Content-Type": upstream.headers.get("Content-Type", source.content_type),
                "Cache-Control": "no-store",
                **{k: v for k, v in upstream.headers.items() if k.lower().startswith("x-doorward")},
            }
        )
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, ConnectionResetError):
            pass  # the device or the viewer went away; either way this relay is over
        return response


async def relay_shared_stream(
    request: web.Request, content_type: str, viewer: asyncio.Queue[bytes | None]
) -> web.StreamResponse:
    """Relay an MJPEG stream someone else reads (`viewer` has its body from now on), from the
    next part boundary on."""
    boundary = content_type.partition("boundary=")[2].strip().strip('"')
    delimiter = b"--" + boundary.removeprefix("--").encode()
    response = web.StreamResponse(
        headers={"Content-Type": content_type, "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    pending: bytes | None = b""  # what came before the first boundary (None once past it)
    try:
        while (chunk := await viewer.get()) is not None:
            if pending is not None:
                pending += chunk
                start = pending.find(delimiter)
                if start < 0:
                    pending = pending[-len(delimiter) :]
                    continue
                chunk, pending = pending[start:], None
            await response.write(chunk)
    except ConnectionResetError:
        pass  # the viewer went away
    return response


@routes.get(f"{API}/events")
async def list_events(request: web.Request) -> web.Response:
    """A page of stored events, oldest first."""
    hub = request.app[HUB_KEY]
    after = int_query(request, "after", 0, 0, 2**62)
    limit = int_query(request, "limit", 100, 1, MAX_EVENTS_PAGE)
    doorbell_id = request.query.get("doorbell")
    if doorbell_id is not None:
        hub.doorbells.get(doorbell_id)
    events = await hub.store.events_after(after, limit + 1, doorbell_id)
    return web.json_response(
        {
            "events": [e.to_json() for e in events[:limit]],
            "last_seq": await hub.store.last_seq(),
            "more": len(events) > limit,
        }
    )


@routes.get(API + "/events/{seq}/snapshot")
async def event_snapshot(request: web.Request) -> web.Response:
    """The picture taken when the event happened."""
    hub = request.app[HUB_KEY]
    try:
        seq = int(request.match_info["seq"])
    except ValueError:
        _raise(400, "invalid_request", "seq: must be an integer")
    jpeg = await hub.snapshots.load(seq)
    if jpeg is None:
        _raise(404, "no_snapshot", f"no snapshot stored for event {seq}")
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


routes.get(f"{API}/ws")(websocket_handler)


def build_app(hub: Hub) -> web.Application:
    """The aiohttp application serving the API for `hub`."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=64 * 1024
    )
    app[HUB_KEY] = hub
    app.add_routes(routes)
    app.add_routes(clip_routes)
    app.add_routes(credential_routes)
    return app
