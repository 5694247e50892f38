"""Doorbells: list, settings, approval, forgetting, the current picture and the live video."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from doorward_hub import models
from doorward_hub.devices.doorbells import DoorbellUnavailable
from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.keys import DOORBELLS, HTTP_SESSION, RECORDER
from doorward_hub.web.operations import Body, Reply, Routes, string
from doorward_hub.web.requests import read_body
from doorward_hub.wire import bodies
from doorward_hub.wire.objects import Doorbell, DoorbellList

DOORBELL_ID = string("doorbell_id", "path", "the doorbell's id (`id` of a doorbell object)")
UNKNOWN = Reply(404, "unknown doorbell (`unknown_doorbell`)")
UNAVAILABLE = "doorbell offline, unpaired, in privacy mode or without the capability"

routes = Routes(API_PREFIX)


@routes.get(
    "/doorbells",
    summary="List doorbells, including those waiting for approval",
    replies=(Reply(200, "the doorbells", DoorbellList),),
)
async def list_doorbells(request: web.Request) -> web.Response:
    """Every doorbell the hub knows."""
    doorbells = request.config_dict[DOORBELLS].doorbells.values()
    return web.json_response(DoorbellList([Doorbell.of(d) for d in doorbells]).to_dict())


@routes.get(
    "/doorbells/{doorbell_id}",
    summary="One doorbell",
    params=(DOORBELL_ID,),
    replies=(Reply(200, "the doorbell", Doorbell), UNKNOWN),
)
async def get_doorbell(request: web.Request) -> web.Response:
    """One doorbell."""
    doorbell = request.config_dict[DOORBELLS].get(request.match_info["doorbell_id"])
    return web.json_response(Doorbell.of(doorbell).to_dict())


@routes.patch(
    "/doorbells/{doorbell_id}",
    summary="Rename a doorbell, switch its privacy mode or change its recording settings",
    params=(DOORBELL_ID,),
    body=Body(bodies.DOORBELL_PATCH, "the fields to change"),
    replies=(Reply(200, "the doorbell", Doorbell), UNKNOWN),
)
async def patch_doorbell(request: web.Request) -> web.Response:
    """Rename a doorbell, switch its privacy mode or change its recording settings."""
    manager = request.config_dict[DOORBELLS]
    doorbell_id = request.match_info["doorbell_id"]
    manager.get(doorbell_id)  # 404 before 400: the doorbell is what the caller got wrong first
    body = await read_body(request)
    if "retention_days" in body and body["retention_days"] is None:
        body["retention_days"] = 0.0  # the manager's "back to the hub's default"
    doorbell = await manager.update(doorbell_id, **body)
    return web.json_response(Doorbell.of(doorbell).to_dict())


@routes.post(
    "/doorbells/{doorbell_id}/approve",
    summary="Adopt a doorbell that waits for approval (pairs it)",
    params=(DOORBELL_ID,),
    replies=(Reply(200, "the doorbell", Doorbell), UNKNOWN),
)
async def approve_doorbell(request: web.Request) -> web.Response:
    """Adopt a doorbell that waits for approval."""
    doorbell = await request.config_dict[DOORBELLS].approve(request.match_info["doorbell_id"])
    return web.json_response(Doorbell.of(doorbell).to_dict())


@routes.delete(
    "/doorbells/{doorbell_id}",
    summary="Disconnect, unpair and forget a doorbell",
    params=(DOORBELL_ID,),
    replies=(Reply(204, "forgotten"), UNKNOWN),
)
async def forget_doorbell(request: web.Request) -> web.Response:
    """Disconnect, unpair and forget a doorbell."""
    await request.config_dict[DOORBELLS].forget(request.match_info["doorbell_id"])
    return web.Response(status=204)


@routes.get(
    "/doorbells/{doorbell_id}/snapshot",
    summary="The doorbell's current picture, fetched from the device",
    params=(DOORBELL_ID,),
    replies=(
        Reply(200, "the picture", "image/jpeg"),
        UNKNOWN,
        Reply(409, f"{UNAVAILABLE} (`doorbell_unavailable`)"),
    ),
)
async def doorbell_snapshot(request: web.Request) -> web.Response:
    """The doorbell's current picture."""
    jpeg = await request.config_dict[DOORBELLS].snapshot(request.match_info["doorbell_id"])
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


@routes.get(
    "/doorbells/{doorbell_id}/video",
    summary="The live video relayed as the device sends it",
    description="Doorward protocol: `video/mp2t` (H.264 in MPEG-TS) with the device's "
    "`X-Doorward-Epoch` header; DoorBird: MJPEG (`multipart/x-mixed-replace`). The stream does "
    "not end. `?token=` works for players that cannot set headers.",
    params=(DOORBELL_ID,),
    query_token=True,
    replies=(
        Reply(200, "the live stream", ("video/mp2t", "multipart/x-mixed-replace")),
        UNKNOWN,
        Reply(409, f"{UNAVAILABLE}, or the device refused the video (`doorbell_unavailable`)"),
    ),
)
async def doorbell_video(request: web.Request) -> web.StreamResponse:
    """The doorbell's live video, relayed as the device sends it; cut off when privacy mode
    is switched on."""
    doorbells = request.config_dict[DOORBELLS]
    doorbell = doorbells.get(request.match_info["doorbell_id"])
    source = doorbells.video_source(doorbell.id)
    stream = request.config_dict[RECORDER].streams.get(doorbell.id)
    if stream is not None and (viewer := stream.watch()) is not None:
        # Devices serve few streams at once: share the one the recorder reads.
        try:
            return await relay_shared_stream(request, stream.content_type or "", viewer, doorbell)
        finally:
            stream.unwatch(viewer)
    try:
        upstream = await request.config_dict[HTTP_SESSION].get(
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
                if doorbell.privacy_mode:
                    break
                await response.write(chunk)
        except (aiohttp.ClientError, ConnectionResetError):
            pass  # the device or the viewer went away; either way this relay is over
        return response


async def relay_shared_stream(
    request: web.Request,
    content_type: str,
    viewer: asyncio.Queue[bytes | None],
    doorbell: models.Doorbell,
) -> web.StreamResponse:
    """Relay an MJPEG stream someone else reads (`viewer` has its body from now on), from the
    next part boundary on, until the stream ends or `doorbell` goes into privacy mode."""
    boundary = content_type.partition("boundary=")[2].strip().strip('"')
    delimiter = b"--" + boundary.removeprefix("--").encode()
    response = web.StreamResponse(
        headers={"Content-Type": content_type, "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    pending: bytes | None = b""  # what came before the first boundary (None once past it)
    try:
        while (chunk := await viewer.get()) is not None and not doorbell.privacy_mode:
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
