"""Clip messages in the resumable push order (issue 15, item 11): `clip` and `clip_removed`
share the events' seq, are stored with what they announce, and are replayed after `after`
exactly once and in order, with the events, across a restart too."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from doorward_hub.app import Hub
from doorward_hub.core.files import write_atomically
from doorward_hub.devices.drivers.base import DeviceEvent
from doorward_hub.events.bus import EventBus
from doorward_hub.models import Clip, ClipTrigger, Doorbell, EventType
from doorward_hub.recording.library import clip_announcement, removal_announcement
from doorward_hub.storage.repositories import Repositories
from doorward_hub.web.api_v1 import websocket

from .conftest import LOOPBACK, hub_config, pair_client

DOORBELL = Doorbell("front", "doorward", "Front", "sim", LOOPBACK, 1, frozenset())


async def press(hub: Hub, key: str) -> int:
    recorded = await hub.bus.record(
        DOORBELL, DeviceEvent(EventType.PRESS, None, key=key, cursor=key)
    )
    assert recorded is not None
    return recorded.event.seq


async def new_clip(hub: Hub) -> Clip:
    library = hub.recorder.library
    start = time.time()
    name = library.new_file_name(DOORBELL.id, start)
    await asyncio.to_thread(write_atomically, library.path(name), b"\0" * 10)
    clip = Clip(0, DOORBELL.id, ClipTrigger.MANUAL, None, start, start, start + 1, 10, "", name)
    return await library.add(clip)


async def pushed(
    ws: aiohttp.ClientWebSocketResponse, count: int, within: float = 10
) -> list[tuple[str, int]]:
    """The next `count` messages of the seq order: (type, seq) each."""
    got: list[tuple[str, int]] = []
    async with asyncio.timeout(within):
        while len(got) < count:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == "event":
                got.append(("event", message["event"]["seq"]))
            elif message["type"] in {"clip", "clip_removed"}:
                got.append((message["type"], message["seq"]))
    return got


async def nothing_more(ws: aiohttp.ClientWebSocketResponse) -> None:
    with pytest.raises(TimeoutError):
        await pushed(ws, 1, within=1)


async def test_clip_messages_are_replayed_once_in_order_with_events(
    tmp_path: Path, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket, "REPLAY_PAGE", 2)  # replay pages that end mid-order
    hub = Hub(hub_config(tmp_path / "hub", press_merge_seconds=0.0))
    await hub.start()
    try:
        base = f"http://{LOOPBACK}:{hub.port}"
        token = await pair_client(http, base, await hub.pairing.new_code())
        headers = {"Authorization": f"Bearer {token}"}
        live = await http.ws_connect(f"{base}/api/v1/ws", headers=headers)
        assert (await live.receive_json())["type"] == "hello"

        first = await press(hub, "1")
        clip = await new_clip(hub)
        await press(hub, "2")
        other = await new_clip(hub)
        await hub.recorder.library.delete(clip, "asked by a test")
        await press(hub, "3")
        expected = await pushed(live, 6)
        assert [kind for kind, _ in expected] == [
            "event",
            "clip",
            "event",
            "clip",
            "clip_removed",
            "event",
        ]
        seqs = [seq for _, seq in expected]
        assert seqs == list(range(first, first + 6)), "one order, no gap, no repeat"
        await nothing_more(live)
        await live.close()
        assert other.id != clip.id
    finally:
        await hub.stop()

    hub = Hub(hub_config(tmp_path / "hub", press_merge_seconds=0.0))
    await hub.start()
    try:
        base = f"http://{LOOPBACK}:{hub.port}"
        for after in (0, first, seqs[1], seqs[3], seqs[-1]):
            async with http.ws_connect(f"{base}/api/v1/ws?after={after}", headers=headers) as ws:
                hello = await ws.receive_json()
                assert hello["last_seq"] == seqs[-1]
                missed = [item for item in expected if item[1] > after]
                assert await pushed(ws, len(missed)) == missed, after
                await nothing_more(ws)
    finally:
        await hub.stop()


async def test_a_database_from_before_clip_messages_continues_the_seq(tmp_path: Path) -> None:
    """Migration 4 adds the stored clip messages; their seqs follow the events already there."""
    path = tmp_path / "hub.db"
    stored = await Repositories.open(path)
    try:
        for key in ("1", "2"):
            await stored.events.record_event(
                doorbell_id="front",
                event_type=EventType.PRESS,
                time=1.0,
                device_time=None,
                device_key=key,
                cursor=key,
                merge_seconds=0.0,
            )
    finally:
        await stored.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE clip_notices")
        db.execute("PRAGMA user_version=3")
    db.close()

    stored = await Repositories.open(path)
    try:
        clip = Clip(0, "front", ClipTrigger.MANUAL, None, 1.0, 1.0, 2.0, 1, "", "front.mp4")
        added, notice = await stored.clips.add_clip(clip, clip_announcement)
        assert notice["seq"] == 3
        assert await stored.events.last_seq() == 3
        assert await stored.clips.notices_after(2, 10) == [(3, notice)]
        assert notice["clip"]["id"] == added.id
    finally:
        await stored.close()


async def test_concurrent_events_and_clip_messages_are_published_once_each_in_seq_order(
    tmp_path: Path,
) -> None:
    """Presses, clip additions and clip removals at once: one writer numbers them all, so each
    is published once, after it is durable, in seq order, exactly as stored."""
    stored = await Repositories.open(tmp_path / "hub.db")
    try:
        bus = EventBus(stored.events, press_merge_seconds=0)
        subscription = bus.subscribe(None)

        async def add(n: int) -> Clip:
            clip = Clip(0, "front", ClipTrigger.MANUAL, None, n, n, n + 1, 1, "", f"{n}.mp4")
            added, _ = await stored.clips.add_clip(clip, clip_announcement, bus.publish)
            return added

        doomed = [await add(n) for n in range(20)]
        burst: list[Awaitable[object]] = []
        for n in range(60):
            key = f"k{n}"
            burst.append(bus.record(DOORBELL, DeviceEvent(EventType.PRESS, None, key, cursor=key)))
            burst.append(add(100 + n))
            if n < len(doomed):
                burst.append(
                    stored.clips.delete_clips([doomed[n].id], removal_announcement, bus.publish)
                )
        await asyncio.gather(*burst)

        published: list[tuple[str, int]] = []
        while not subscription.queue.empty():
            message = subscription.queue.get_nowait()
            assert message is not None
            seq = message["event"]["seq"] if message["type"] == "event" else message["seq"]
            published.append((message["type"], seq))
        assert [seq for _, seq in published] == list(range(1, 20 + 60 + 60 + 20 + 1))
        assert sorted(kind for kind, _ in published) == sorted(
            ["clip"] * 80 + ["event"] * 60 + ["clip_removed"] * 20
        )
        kept = [(e.seq, "event") for e in await stored.events.events_after(0, 1000)]
        kept += [(seq, notice["type"]) for seq, notice in await stored.clips.notices_after(0, 1000)]
        assert sorted(kept) == [(seq, kind) for kind, seq in published], "published = stored"
        assert await stored.events.last_seq() == published[-1][1]
    finally:
        await stored.close()


async def test_clients_connecting_during_a_burst_get_every_seq_once_in_order(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """The replay stops at the hello's `last_seq` and the live stream takes over from there: a
    client that connects while events and clip messages are being stored misses none of them
    and gets none twice."""
    hub = Hub(hub_config(tmp_path / "hub", press_merge_seconds=0.0))
    await hub.start()
    try:
        base = f"http://{LOOPBACK}:{hub.port}"
        token = await pair_client(http, base, await hub.pairing.new_code())
        headers = {"Authorization": f"Bearer {token}"}

        async def burst() -> None:
            for n in range(40):
                await asyncio.gather(press(hub, f"b{n}"), new_clip(hub), press(hub, f"c{n}"))

        async def client(delay: float) -> list[int]:
            await asyncio.sleep(delay)
            async with http.ws_connect(f"{base}/api/v1/ws?after=0", headers=headers) as ws:
                assert (await ws.receive_json())["type"] == "hello"
                await finished.wait()
                total = await hub.repositories.events.last_seq()
                return [seq for _, seq in await pushed(ws, total, within=30)]

        finished = asyncio.Event()
        clients = [asyncio.create_task(client(delay)) for delay in (0, 0.05, 0.1, 0.2, 0.4)]
        await burst()
        finished.set()
        total = await hub.repositories.events.last_seq()
        assert total >= 120
        for received in await asyncio.gather(*clients):
            assert received == list(range(1, total + 1))
    finally:
        await hub.stop()


async def test_messages_stored_between_the_replays_two_reads_come_live_once_in_order(
    tmp_path: Path, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay reads events, then clip messages: an event and a clip stored (and published)
    between those two reads are not in the first, are in the second. The replay ends at the
    hello's `last_seq`, so both come live, in order, instead of the clip being replayed and the
    event, now behind it, dropped as already sent."""
    hub = Hub(hub_config(tmp_path / "hub", press_merge_seconds=0.0))
    await hub.start()
    try:
        base = f"http://{LOOPBACK}:{hub.port}"
        token = await pair_client(http, base, await hub.pairing.new_code())
        first = await press(hub, "1")
        clips = hub.repositories.clips
        read_clip_notices = clips.notices_after
        stored_between: list[int] = []

        async def notices_after(after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
            if not stored_between:
                stored_between.append(await press(hub, "2"))
                stored_between.append((await new_clip(hub)).id)
            return await read_clip_notices(after, limit)

        monkeypatch.setattr(clips, "notices_after", notices_after)
        headers = {"Authorization": f"Bearer {token}"}
        async with http.ws_connect(f"{base}/api/v1/ws?after=0", headers=headers) as ws:
            assert (await ws.receive_json())["last_seq"] == first
            got = await pushed(ws, 3)
            assert got == [("event", first), ("event", first + 1), ("clip", first + 2)]
            await nothing_more(ws)
    finally:
        await hub.stop()
