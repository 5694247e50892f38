"""Client API routes: hub identity, pairing and tokens, doorbells, events and their pictures."""

from __future__ import annotations

import logging

import aiohttp
import voluptuous as vol
from aiohttp import web

from doorward_hub import __version__
from doorward_hub.devices.doorbells import DoorbellUnavailable
from doorward_hub.protocol import API_VERSION, CLOSE_TOKEN_REVOKED
from doorward_hub.web.api_v1.auth import public
from doorward_hub.web.api_v1.openapi import openapi_document
from doorward_hub.web.errors import fail
from doorward_hub.web.keys import (
    DOORBELLS,
    EVENT_BUS,
    EVENTS,
    HTTP_SESSION,
    IDENTITY,
    PAIRING,
    SNAPSHOTS,
    TOKEN_RECORDS,
    TOKENS,
)
from doorward_hub.web.requests import int_query, number, read_json

_LOGGER = logging.getLogger(__name__)

MAX_EVENTS_PAGE = 500

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


@routes.get("/info")
@public
async def get_info(request: web.Request) -> web.Response:
    """Hub identity (public: the same facts the mDNS record carries)."""
    identity = request.config_dict[IDENTITY]
    return web.json_response(
        {
            "hub_id": identity.hub_id,
            "name": identity.name,
            "version": __version__,
            "api_version": API_VERSION,
        }
    )


@routes.get("/openapi.json")
@public
async def get_openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API."""
    return web.json_response(openapi_document(__version__))


@routes.post("/pair")
@public
async def pair(request: web.Request) -> web.Response:
    """Exchange a one-time pairing code for a token."""
    body = await read_json(request, PAIR_SCHEMA)
    issued = await request.config_dict[PAIRING].redeem(body["code"], body["client_name"])
    if issued is None:
        fail(401, "invalid_code", "the pairing code is wrong, used or expired")
    request.config_dict[TOKENS].add(issued)
    hub_id = request.config_dict[IDENTITY].hub_id
    return web.json_response({"token": issued.token, "token_id": issued.token_id, "hub_id": hub_id})


@routes.get("/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    """Every valid client token (never the secrets)."""
    tokens = await request.config_dict[TOKEN_RECORDS].list_tokens()
    return web.json_response({"tokens": [t.to_json() for t in tokens]})


@routes.delete("/tokens/{token_id}")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token and close the WebSockets that use it."""
    token_id = request.match_info["token_id"]
    if not await request.config_dict[TOKENS].revoke(token_id):
        fail(404, "unknown_token", f"no token with id {token_id!r}")
    request.config_dict[EVENT_BUS].close_token(token_id, CLOSE_TOKEN_REVOKED, "token revoked")
    _LOGGER.info("Revoked a token", extra={"token_id": token_id})
    return web.Response(status=204)


@routes.get("/doorbells")
async def list_doorbells(request: web.Request) -> web.Response:
    """Every doorbell the hub knows."""
    doorbells = request.config_dict[DOORBELLS].doorbells.values()
    return web.json_response({"doorbells": [d.to_json() for d in doorbells]})


@routes.get("/doorbells/{doorbell_id}")
async def get_doorbell(request: web.Request) -> web.Response:
    """One doorbell."""
    doorbell = request.config_dict[DOORBELLS].get(request.match_info["doorbell_id"])
    return web.json_response(doorbell.to_json())


@routes.patch("/doorbells/{doorbell_id}")
async def patch_doorbell(request: web.Request) -> web.Response:
    """Rename a doorbell, switch its privacy mode or change its recording settings."""
    manager = request.config_dict[DOORBELLS]
    doorbell_id = request.match_info["doorbell_id"]
    manager.get(doorbell_id)  # 404 before 400: the doorbell is what the caller got wrong first
    body = await read_json(request, DOORBELL_PATCH_SCHEMA)
    doorbell = await manager.update(doorbell_id, **body)
    return web.json_response(doorbell.to_json())


@routes.post("/doorbells/{doorbell_id}/approve")
async def approve_doorbell(request: web.Request) -> web.Response:
    """Adopt a doorbell that waits for approval."""
    doorbell = await request.config_dict[DOORBELLS].approve(request.match_info["doorbell_id"])
    return web.json_response(doorbell.to_json())


@routes.delete("/doorbells/{doorbell_id}")
async def forget_doorbell(request: web.Request) -> web.Response:
    """Disconnect, unpair and forget a doorbell."""
    await request.config_dict[DOORBELLS].forget(request.match_info["doorbell_id"])
    return web.Response(status=204)


@routes.get("/doorbells/{doorbell_id}/snapshot")
async def doorbell_snapshot(request: web.Request) -> web.Response:
    """The doorbell's current picture."""
    jpeg = await request.config_dict[DOORBELLS].snapshot(request.match_info["doorbell_id"])
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


@routes.get("/doorbells/{doorbell_id}/video")
async def doorbell_video(request: web.Request) -> web.StreamResponse:
    """The doorbell's live video, relayed as the device sends it."""
    source = request.config_dict[DOORBELLS].video_source(request.match_info["doorbell_id"])
    try:
        upstream = await request.config_dict[HTTP_SESSION].get(
            source.url, headers=dict(source.headers), timeout=aiohttp.ClientTimeout(sock_connect=10)
        )
    except (aiohttp.ClientError, TimeoutError) as err:
        raise DoorbellUnavailable(f"video not reachable: {err!r}") from err
    async with upstream:
        if upstream.status != 200:
            raise DoorbellUnavailable(f"video refused by the device: HTTP {upstream.status}")
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


@routes.get("/events")
async def list_events(request: web.Request) -> web.Response:
    """A page of stored events, oldest first."""
    after = int_query(request, "after", 0, 0, 2**62)
    limit = int_query(request, "limit", 100, 1, MAX_EVENTS_PAGE)
    doorbell_id = request.query.get("doorbell")
    if doorbell_id is not None:
        request.config_dict[DOORBELLS].get(doorbell_id)
    stored = request.config_dict[EVENTS]
    events = await stored.events_after(after, limit + 1, doorbell_id)
    return web.json_response(
        {
            "events": [e.to_json() for e in events[:limit]],
            "last_seq": await stored.last_seq(),
            "more": len(events) > limit,
        }
    )


@routes.get("/events/{seq}/snapshot")
async def event_snapshot(request: web.Request) -> web.Response:
    """The picture taken when the event happened."""
    try:
        seq = int(request.match_info["seq"])
    except ValueError:
        fail(400, "invalid_request", "seq: must be an integer")
    jpeg = await request.config_dict[SNAPSHOTS].load(seq)
    if jpeg is None:
        fail(404, "no_snapshot", f"no snapshot stored for event {seq}")
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )
