"""The event store on a real SQLite file: order, idempotence per device key, press merging,
paging, the doorbell's cursor, group commit under a burst and `kill -9` in the middle of one.
Fast, so mutation testing (scripts/mutation) can run it often."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from doorward_hub.devices.drivers.base import DeviceEvent
from doorward_hub.events.bus import EventBus
from doorward_hub.models import Doorbell, EventType
from doorward_hub.storage.event_writer import EventWriterClosed
from doorward_hub.storage.events import EventRepository
from doorward_hub.storage.repositories import Repositories

T0 = 1_800_000_000.0


@pytest.fixture
async def stored(tmp_path: Path) -> AsyncIterator[Repositories]:
    repositories = await Repositories.open(tmp_path / "hub.db")
    yield repositories
    await repositories.close()


async def record(
    events: EventRepository,
    doorbell_id: str = "front",
    event_type: EventType = EventType.PRESS,
    *,
    time: float = T0,
    device_time: float | None = None,
    device_key: str | None = None,
    cursor: str | None = None,
    merge_seconds: float = 2.0,
) -> tuple[Any, bool] | None:
    return await events.record_event(
        doorbell_id=doorbell_id,
        event_type=event_type,
        time=time,
        device_time=device_time,
        device_key=device_key,
        cursor=cursor,
        merge_seconds=merge_seconds,
    )


async def test_events_get_increasing_seqs_and_page_in_order(stored: Repositories) -> None:
    events = stored.events
    assert await events.last_seq() == 0
    kinds = [EventType.PRESS, EventType.MOTION_START, EventType.MOTION_STOP, EventType.PRESS]
    for n, kind in enumerate(kinds):
        result = await record(events, "front" if n % 2 == 0 else "back", kind, time=T0 + 10 * n)
        assert result is not None
        event, merged = result
        assert (event.seq, event.type, event.presses, merged) == (n + 1, kind, 1, False)
        assert event.time == T0 + 10 * n
    assert await events.last_seq() == 4
    assert [e.seq for e in await events.events_after(0, 100)] == [1, 2, 3, 4]
    assert [e.seq for e in await events.events_after(1, 2)] == [2, 3]
    assert [e.seq for e in await events.events_after(4, 100)] == []
    assert [e.seq for e in await events.events_after(0, 100, "back")] == [2, 4]
    assert [e.seq for e in await events.events_after(2, 1, "front")] == [3]
    assert await events.get_event(5) is None
    got = await events.get_event(2)
    assert got is not None
    assert (got.doorbell_id, got.type, got.has_snapshot) == ("back", EventType.MOTION_START, False)


async def test_a_device_event_is_stored_once_per_doorbell(stored: Repositories) -> None:
    events = stored.events
    first = await record(events, device_key="boot1:1", time=T0)
    assert first is not None
    assert await record(events, device_key="boot1:1", time=T0 + 60) is None, "a replay"
    # The same key from another doorbell, or a new key, is a new event.
    other = await record(events, "back", device_key="boot1:1", time=T0 + 60)
    assert other is not None
    assert other[0].seq == 2
    new = await record(events, device_key="boot1:2", time=T0 + 60)
    assert new is not None
    assert new[0].seq == 3
    # A press merged into an earlier one still counts as stored for its key.
    merged = await record(events, device_key="boot1:3", time=T0 + 61)
    assert merged is not None
    assert (merged[0].seq, merged[1]) == (3, True)
    assert await record(events, device_key="boot1:3", time=T0 + 61) is None
    assert (await events.get_event(3)).presses == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("gap", "merged"),
    [(0.0, True), (1.0, True), (2.0, True), (2.01, False), (-0.5, False), (30.0, False)],
)
async def test_presses_merge_within_the_window(
    stored: Repositories, gap: float, merged: bool
) -> None:
    events = stored.events
    await record(events, time=T0)
    result = await record(events, time=T0 + gap)
    assert result is not None
    event, was_merged = result
    assert was_merged is merged
    if merged:
        assert (event.seq, event.presses) == (1, 2)
        assert [e.presses for e in await events.events_after(0, 10)] == [2]
    else:
        assert (event.seq, event.presses) == (2, 1)


async def test_merging_compares_device_clocks_when_both_have_one(stored: Repositories) -> None:
    events = stored.events
    await record(events, time=T0, device_time=500.0)
    # Replayed late: 30 s apart on the hub's clock, 1 s apart on the device's.
    late = await record(events, time=T0 + 30, device_time=501.0)
    assert late is not None
    assert late[1] is True
    # 1 s apart on the hub's clock, 30 s apart on the device's: two presses.
    apart = await record(events, time=T0 + 31, device_time=531.0)
    assert apart is not None
    assert (apart[0].seq, apart[1]) == (2, False)
    # Without a device time on one side, the hub's clock decides.
    hub_clock = await record(events, time=T0 + 32)
    assert hub_clock is not None
    assert (hub_clock[0].seq, hub_clock[1]) == (2, True)


async def test_the_gap_is_a_difference_of_times_on_small_clocks_too(
    stored: Repositories,
) -> None:
    """A device clock counting from boot and a hub clock near zero: 30 s apart is 30 s."""
    events = stored.events
    await record(events, time=10.0, device_time=1.0)
    device = await record(events, time=11.0, device_time=31.0)
    assert device is not None
    assert device[1] is False
    await record(events, "back", time=10.0)
    hub_clock = await record(events, "back", time=40.0)
    assert hub_clock is not None
    assert hub_clock[1] is False


async def test_the_merge_window_is_the_configured_one(stored: Repositories) -> None:
    events = stored.events
    await record(events, time=T0, merge_seconds=1.0)
    inside = await record(events, time=T0 + 0.5, merge_seconds=1.0)
    assert inside is not None
    assert inside[1] is True
    # A window of 0 switches merging off, even for presses at the same instant.
    await record(events, "back", time=T0, merge_seconds=0)
    same = await record(events, "back", time=T0, merge_seconds=0)
    assert same is not None
    assert (same[0].seq, same[1]) == (3, False)


async def test_only_presses_of_the_same_doorbell_merge(stored: Repositories) -> None:
    events = stored.events
    await record(events, time=T0)
    back = await record(events, "back", time=T0 + 1)
    assert back is not None
    assert (back[0].seq, back[1]) == (2, False)
    motion = await record(events, event_type=EventType.MOTION_START, time=T0 + 1)
    assert motion is not None
    assert (motion[0].seq, motion[0].presses, motion[1]) == (3, 1, False)
    again = await record(events, event_type=EventType.MOTION_START, time=T0 + 1.5)
    assert again is not None
    assert again[1] is False, "motion never merges"
    # A press after motion still merges into the doorbell's last press.
    press = await record(events, time=T0 + 1.8)
    assert press is not None
    assert (press[0].seq, press[1]) == (1, True)
    # A merge window of 0 never merges.
    lone = await record(events, time=T0 + 1.9, merge_seconds=0)
    assert lone is not None
    assert (lone[0].seq, lone[1]) == (5, False)


async def test_the_cursor_and_snapshot_mark_are_stored(stored: Repositories) -> None:
    doorbell = Doorbell("front", "doorward", "Front", "Sim", "127.0.0.1", 1, frozenset())
    await stored.doorbells.save_doorbell(doorbell)
    result = await record(stored.events, time=T0, cursor="boot1:7")
    assert result is not None
    [loaded] = await stored.doorbells.load_doorbells()
    assert (loaded.cursor, loaded.last_seen) == ("boot1:7", T0)
    await record(stored.events, time=T0 + 60)  # no cursor: the stored one stays
    [loaded] = await stored.doorbells.load_doorbells()
    assert (loaded.cursor, loaded.last_seen) == ("boot1:7", T0)
    await stored.events.mark_snapshot(result[0].seq)
    marked = await stored.events.get_event(result[0].seq)
    assert marked is not None
    assert marked.has_snapshot is True
    second = await stored.events.get_event(2)
    assert second is not None
    assert second.has_snapshot is False


async def test_a_burst_of_concurrent_presses_is_stored_once_each_and_published_in_order(
    stored: Repositories,
) -> None:
    """Group commit: presses from 20 doorbells at once, some sent twice, share few commits."""
    bus = EventBus(stored.events, press_merge_seconds=0)
    subscription = bus.subscribe(None)
    doorbells = [
        Doorbell(f"door{n}", "doorward", f"Door {n}", "Sim", "127.0.0.1", 1, frozenset())
        for n in range(20)
    ]
    for doorbell in doorbells:
        await stored.doorbells.save_doorbell(doorbell)
    presses = [
        (doorbells[n % 20], DeviceEvent(EventType.PRESS, None, key=f"boot:{n}", cursor=f"boot:{n}"))
        for n in range(200)
    ]
    commits_before = stored.event_writer.commits
    # Every press is sent twice at the same moment (a device retrying): stored once.
    results = await asyncio.gather(*(bus.record(d, e) for d, e in presses + presses))

    first, repeats = results[:200], results[200:]
    assert all(r is not None for r in first)
    assert all(r is None for r in repeats)
    seqs = [r.event.seq for r in first if r is not None]
    assert sorted(seqs) == list(range(1, 201))
    # Submitted in this order, stored in this order.
    assert seqs == list(range(1, 201))
    assert stored.event_writer.commits - commits_before < 400, "no batching happened"
    published = []
    while not subscription.queue.empty():
        message = subscription.queue.get_nowait()
        assert message is not None
        published.append(message["event"]["seq"])
    assert published == list(range(1, 201)), "published once each, in seq order"
    events = await stored.events.events_after(0, 1000)
    assert [(e.seq, e.doorbell_id) for e in events] == [
        (n + 1, f"door{n % 20}") for n in range(200)
    ]
    for loaded in await stored.doorbells.load_doorbells():
        last = max(n for n in range(200) if f"door{n % 20}" == loaded.id)
        assert loaded.cursor == f"boot:{last}"


async def test_work_that_fails_spoils_only_itself_in_a_batch(stored: Repositories) -> None:
    def fails(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO events (doorbell_id, type, time) VALUES ('x', 'press', 1.0)")
        raise ValueError("refused")

    results = await asyncio.gather(
        record(stored.events, time=T0),
        stored.event_writer.submit(fails),
        record(stored.events, "back", time=T0),
        return_exceptions=True,
    )
    assert isinstance(results[1], ValueError)
    assert [e.doorbell_id for e in await stored.events.events_after(0, 10)] == ["front", "back"]
    await stored.event_writer.close()
    with pytest.raises(EventWriterClosed):
        await record(stored.events, time=T0 + 60)


KILLED_MID_BURST = """
import asyncio, os, signal, sys
from pathlib import Path
from doorward_hub.models import EventType
from doorward_hub.storage.repositories import Repositories

async def main():
    stored = await Repositories.open(Path(sys.argv[1]))
    acknowledged = 0
    def on_durable(result):
        nonlocal acknowledged
        print(result[0].seq, flush=True)
        acknowledged += 1
        if acknowledged == 150:
            os.kill(os.getpid(), signal.SIGKILL)
    await asyncio.gather(*(
        stored.events.record_event(
            doorbell_id="front", event_type=EventType.PRESS, time=float(n), device_time=None,
            device_key=f"k{n}", cursor=None, merge_seconds=0, on_durable=on_durable,
        )
        for n in range(400)
    ))

asyncio.run(main())
"""


async def test_every_acknowledged_event_survives_kill_9_mid_burst(tmp_path: Path) -> None:
    """The hub acknowledges (publishes) an event only once its batch is committed."""
    path = tmp_path / "hub.db"
    await (await Repositories.open(path)).close()  # created and migrated
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_MID_BURST, str(path), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await done.communicate()
    assert done.returncode == -signal.SIGKILL
    acknowledged = [int(line) for line in out.split()]
    assert len(acknowledged) >= 150
    stored = await Repositories.open(path)
    try:
        events = await stored.events.events_after(0, 1000)
        kept = {e.seq for e in events}
        assert set(acknowledged) <= kept
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finally:
        await stored.close()
