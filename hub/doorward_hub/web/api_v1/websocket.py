"""The push channel: `GET /api/v1/ws?after=<seq>` replays the stored events and clip messages
(one seq order), then streams live messages."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, web

from doorward_hub import __version__
from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.api_v1.auth import TOKEN_ID
from doorward_hub.web.errors import json_error
from doorward_hub.web.keys import CLIPS, DOORBELLS, EVENT_BUS, EVENTS, IDENTITY
from doorward_hub.web.operations import Reply, Routes, integer
from doorward_hub.wire.messages import DoorbellMessage, EventMessage, Hello
from doorward_hub.wire.objects import MAX_ID, Doorbell, Event

if TYPE_CHECKING:
    from doorward_hub.events.bus import Message, Subscription
    from doorward_hub.storage.clips import ClipRepository
    from doorward_hub.storage.events import EventRepository

_LOGGER = logging.getLogger(__name__)

routes = Routes(API_PREFIX)

AFTER = integer(
    "after", "query", 0, MAX_ID, "replay the stored events and clip messages with a larger seq"
)

HEARTBEAT = 30.0
REPLAY_PAGE = 500


@routes.get(
    "/ws",
    summary="WebSocket push: hello, every doorbell, the events and clip messages after `after`, "
    "then live messages",
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
    """Send hello, every doorbell, the events and clip messages after `after`, then everything
    live, in order.

    The subscription starts before the hello's `last_seq` is read, and the replay stops at that
    seq: what was stored by then is replayed, what is stored later is published to the
    subscription after it is durable (one writer numbers and publishes every seq in order), so
    nothing falls between the two; live messages already sent by the replay are skipped by seq,
    so nothing is sent twice.
    """
    after = AFTER.value(request, 0)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT)
    if not ws.can_prepare(request).ok:
        reason = "this is the WebSocket push channel: upgrade the connection to WebSocket"
        return json_error(426, "upgrade_required", reason, {"Upgrade": "websocket"})
    await ws.prepare(request)
    bus, events = request.config_dict[EVENT_BUS], request.config_dict[EVENTS]
    clips = request.config_dict[CLIPS]
    subscription = bus.subscribe(request[TOKEN_ID])
    reader = asyncio.create_task(_drain_client(ws))
    try:
        hub_id = request.config_dict[IDENTITY].hub_id
        last = await events.last_seq()
        await ws.send_json(Hello(hub_id, __version__, last).to_dict())
        for doorbell in list(request.config_dict[DOORBELLS].doorbells.values()):
            await ws.send_json(DoorbellMessage(Doorbell.of(doorbell)).to_dict())
        sent = await _replay(ws, events, clips, after, last)
        await _stream_live(ws, subscription, reader, sent)
    except ConnectionResetError:
        pass  # the client vanished mid-send; it resumes from its last seq
    finally:
        bus.unsubscribe(subscription)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return ws


async def _replay(
    ws: web.WebSocketResponse,
    events: EventRepository,
    clips: ClipRepository,
    after: int,
    last: int,
) -> int:
    """Send the stored events and clip messages with `after < seq <= last`, merged in seq order;
    returns the last seq sent.

    Every seq up to `last` was durable when `last` was read, so both tables hold all of them
    whenever they are read; a seq above it may be in one table's page and not yet in the
    other's, so it is left to the live stream.
    """
    sent = after
    while True:
        event_page = await events.events_after(sent, REPLAY_PAGE)
        clip_page = await clips.notices_after(sent, REPLAY_PAGE)
        stored = sorted(
            [(event.seq, EventMessage(Event.of(event)).to_dict()) for event in event_page]
            + clip_page,
            key=lambda item: item[0],
        )
        # A full page may stop short of what the other holds: send only up to where both are.
        ends = [event_page[-1].seq] if len(event_page) == REPLAY_PAGE else []
        ends += [clip_page[-1][0]] if len(clip_page) == REPLAY_PAGE else []
        until = min([last, *ends])
        for seq, message in stored:
            if seq > until:
                break
            await ws.send_json(message)
            sent = seq
        if until == last:
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
        seq = _seq(message)
        if seq is not None:
            if seq <= sent:
                continue  # already sent by the replay
            sent = seq
        await ws.send_json(message)


def _seq(message: Message) -> int | None:
    """The seq of a message in the replayable order (events, clip messages), else None."""
    if message["type"] == "event":
        return int(message["event"]["seq"])
    if message["type"] in {"clip", "clip_removed"}:
        return int(message["seq"])
    return None


async def _drain_client(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings, pongs and close frames are handled."""
    async for _ in ws:
        pass
