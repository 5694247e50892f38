"""The push channel: `GET /api/v1/ws?after=<seq>` replays stored events, then streams live ones."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, web

from doorward_hub import __version__
from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.api_v1.auth import TOKEN_ID
from doorward_hub.web.errors import json_error
from doorward_hub.web.keys import DOORBELLS, EVENT_BUS, EVENTS, IDENTITY
from doorward_hub.web.operations import Reply, Routes, integer
from doorward_hub.wire.messages import DoorbellMessage, EventMessage, Hello
from doorward_hub.wire.objects import MAX_ID, Doorbell, Event

if TYPE_CHECKING:
    from doorward_hub.events.bus import Message, Subscription
    from doorward_hub.storage.events import EventRepository

_LOGGER = logging.getLogger(__name__)

routes = Routes(API_PREFIX)

AFTER = integer("after", "query", 0, MAX_ID, "replay the stored events with a larger seq")

HEARTBEAT = 30.0
REPLAY_PAGE = 500


@routes.get(
    "/ws",
    summary="WebSocket push: hello, every doorbell, the events after `after`, then live messages",
    description="Messages (JSON text frames): `components/schemas/PushMessage`. A revoked token "
    "closes the connection with code 4001. `?token=` works for clients that cannot set headers.",
    params=(AFTER,),
    query_token=True,
    replies=(
        Reply(101, "switching to WebSocket"),
        Reply(426, "not a WebSocket handshake (`upgrade_required`)", headers=("Upgrade",)),
    ),
)
async def websocket_handler(request: web.Request) -> web.StreamResponse:
    """Send hello, every doorbell, the events after `after`, then everything live, in order.

    The subscription starts before the replay query, so nothing falls between the two; live
    events already sent by the replay are skipped by seq, so nothing is sent twice.
    """
    after = AFTER.value(request, 0)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT)
    if not ws.can_prepare(request).ok:
        reason = "this is the WebSocket push channel: upgrade the connection to WebSocket"
        return json_error(426, "upgrade_required", reason, {"Upgrade": "websocket"})
    await ws.prepare(request)
    bus, events = request.config_dict[EVENT_BUS], request.config_dict[EVENTS]
    subscription = bus.subscribe(request[TOKEN_ID])
    reader = asyncio.create_task(_drain_client(ws))
    try:
        hub_id = request.config_dict[IDENTITY].hub_id
        await ws.send_json(Hello(hub_id, __version__, await events.last_seq()).to_dict())
        for doorbell in list(request.config_dict[DOORBELLS].doorbells.values()):
            await ws.send_json(DoorbellMessage(Doorbell.of(doorbell)).to_dict())
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
            await ws.send_json(EventMessage(Event.of(event)).to_dict())
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
