"""The push channel: `GET /api/v1/ws?after=<seq>` replays stored events, then streams live ones."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, web

from doorward_hub import __version__
from doorward_hub.web.api_v1.auth import TOKEN_ID
from doorward_hub.web.errors import ApiError
from doorward_hub.web.keys import DOORBELLS, EVENT_BUS, EVENTS, IDENTITY

if TYPE_CHECKING:
    from doorward_hub.events.bus import Message, Subscription
    from doorward_hub.storage.events import EventRepository

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

HEARTBEAT = 30.0
REPLAY_PAGE = 500


@routes.get("/ws")
async def websocket_handler(request: web.Request) -> web.WebSocketResponse:
    """Send hello, every doorbell, the events after `after`, then everything live, in order.

    The subscription starts before the replay query, so nothing falls between the two; live
    events already sent by the replay are skipped by seq, so nothing is sent twice.
    """
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        after = -1
    if after < 0:
        raise ApiError(400, "invalid_request", "after: must be a non-negative integer")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT)
    await ws.prepare(request)
    bus, events = request.config_dict[EVENT_BUS], request.config_dict[EVENTS]
    subscription = bus.subscribe(request[TOKEN_ID])
    reader = asyncio.create_task(_drain_client(ws))
    try:
        await ws.send_json(
            {
                "type": "hello",
                "hub_id": request.config_dict[IDENTITY].hub_id,
                "version": __version__,
                "last_seq": await events.last_seq(),
            }
        )
        for doorbell in list(request.config_dict[DOORBELLS].doorbells.values()):
            await ws.send_json({"type": "doorbell", "doorbell": doorbell.to_json()})
        sent = await _replay(ws, events, after)
        await _stream_live(ws, subscription, reader, sent)
    except ConnectionResetError:
        pass  # the client vanished mid-send; it resumes from its last seq
    finally:
        bus.unsubscribe(subscription)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return ws


async def _replay(ws: web.WebSocketResponse, store: EventRepository, after: int) -> int:
    """Send the stored events after `after`; returns the last seq sent."""
    sent = after
    while True:
        page = await store.events_after(sent, REPLAY_PAGE)
        for event in page:
            await ws.send_json({"type": "event", "event": event.to_json()})
            sent = event.seq
        if len(page) < REPLAY_PAGE:
            return sent


async def _stream_live(
    ws: web.WebSocketResponse,
    subscription: Subscription,
    reader: asyncio.Task[None],
    sent: int,
) -> None:
    """Forward live messages until the client or the hub ends the connection."""
    while not ws.closed:
        get = asyncio.ensure_future(subscription.queue.get())
        done, _ = await asyncio.wait({get, reader}, return_when=asyncio.FIRST_COMPLETED)
        if get not in done:
            get.cancel()
            return  # the client closed
        message: Message | None = get.result()
        if message is None:
            code, reason = subscription.closed or (WSCloseCode.GOING_AWAY, "closing")
            await ws.close(code=code, message=reason.encode())
            return
        if message["type"] == "event":
            if message["event"]["seq"] <= sent:
                continue  # already sent by the replay
            sent = message["event"]["seq"]
        await ws.send_json(message)


async def _drain_client(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings, pongs and close frames are handled."""
    async for _ in ws:
        pass
