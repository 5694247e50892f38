"""Events in sequence order, and the device keys that make storing them idempotent
(tables `events`, `device_events`). Written by group commit through the event writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from doorward_hub.models import Event, EventType
from doorward_hub.storage.database import Database
from doorward_hub.storage.event_writer import EventWriter


def _event(row: sqlite3.Row) -> Event:
    return Event(
        seq=row["seq"],
        doorbell_id=row["doorbell_id"],
        type=EventType(row["type"]),
        time=row["time"],
        device_time=row["device_time"],
        presses=row["presses"],
        has_snapshot=bool(row["has_snapshot"]),
        button=row["button"],
    )


class EventRepository:
    """Stores device events once each, merges repeated presses, pages through history.

    Writes go through the event writer (group commit, its own connection); reads use the hub's
    shared connection, which sees every committed batch.
    """

    def __init__(self, db: Database, writer: EventWriter) -> None:
        """Read through `db`, write through `writer`."""
        self._db = db
        self._writer = writer

    async def record_event(
        self,
        *,
        doorbell_id: str,
        event_type: EventType,
        time: float,
        device_time: float | None,
        device_key: str | None,
        cursor: str | None,
        merge_seconds: float,
        button: str | None = None,
        on_durable: Callable[[tuple[Event, bool] | None], None] | None = None,
    ) -> tuple[Event, bool] | None:
        """Store a device event with the doorbell's new cursor, durably, in the next group commit.

        Returns (event, merged): `merged` is True when a press was folded into the previous press
        of the same doorbell and button within `merge_seconds`. Returns None for a device event
        already stored. `on_durable` gets the same result on the event loop as soon as it is
        committed, in commit order across all callers (see `EventWriter.submit`).
        """

        def work(db: sqlite3.Connection) -> tuple[Event, bool] | None:
            if device_key is not None and _one(
                db,
                "SELECT 1 FROM device_events WHERE doorbell_id = ? AND device_key = ?",
                (doorbell_id, device_key),
            ):
                return None
            merged_into = None
            if event_type is EventType.PRESS and merge_seconds > 0:
                merged_into = _mergeable_press(
                    db,
                    doorbell_id,
                    time=time,
                    device_time=device_time,
                    merge_seconds=merge_seconds,
                    button=button,
                )
            if merged_into is not None:
                seq = merged_into.seq
                db.execute("UPDATE events SET presses = presses + 1 WHERE seq = ?", (seq,))
            else:
                inserted = db.execute(
                    "INSERT INTO events (doorbell_id, type, time, device_time, button)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (doorbell_id, event_type.value, time, device_time, button),
                )
                seq = inserted.lastrowid or 0
            if device_key is not None:
                db.execute(
                    "INSERT INTO device_events (doorbell_id, device_key, seq) VALUES (?, ?, ?)",
                    (doorbell_id, device_key, seq),
                )
            if cursor is not None:
                db.execute(
                    "UPDATE doorbells SET cursor = ?, last_seen = ? WHERE id = ?",
                    (cursor, time, doorbell_id),
                )
            row = _one(db, "SELECT * FROM events WHERE seq = ?", (seq,))
            assert row is not None  # written in this transaction
            return _event(row), merged_into is not None

        return await self._writer.submit(work, on_durable)

    async def get_event(self, seq: int) -> Event | None:
        """One event by its sequence number."""
        row = await self._db.one("SELECT * FROM events WHERE seq = ?", (seq,))
        return None if row is None else _event(row)

    async def events_after(
        self, after: int, limit: int, doorbell_id: str | None = None
    ) -> list[Event]:
        """Events with `seq > after`, oldest first, optionally of one doorbell."""
        if doorbell_id is None:
            rows = await self._db.all(
                "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            )
        else:
            rows = await self._db.all(
                "SELECT * FROM events WHERE seq > ? AND doorbell_id = ? ORDER BY seq LIMIT ?",
                (after, doorbell_id, limit),
            )
        return [_event(row) for row in rows]

    async def last_seq(self) -> int:
        """The highest event sequence number ever stored (0 if none)."""
        row = await self._db.one("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        return 0 if row is None else int(row["seq"])

    async def mark_snapshot(self, seq: int) -> None:
        """Note that the snapshot of event `seq` is stored."""

        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE events SET has_snapshot = 1 WHERE seq = ?", (seq,))

        await self._writer.submit(work)


def _one(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(sql, params).fetchone()
    return row


def _mergeable_press(
    db: sqlite3.Connection,
    doorbell_id: str,
    *,
    time: float,
    device_time: float | None,
    merge_seconds: float,
    button: str | None,
) -> Event | None:
    """The doorbell's last press if this press of `button` at `time` folds into it."""
    row = _one(
        db,
        "SELECT * FROM events WHERE doorbell_id = ? AND type = ? ORDER BY seq DESC LIMIT 1",
        (doorbell_id, EventType.PRESS.value),
    )
    if row is None:
        return None
    last = _event(row)
    if last.button != button:
        return None  # another button of the station: another visitor
    # Compare on the device's clock when both have it (replayed presses arrive late).
    if device_time is not None and last.device_time is not None:
        gap = device_time - last.device_time
    else:
        gap = time - last.time
    return last if 0 <= gap <= merge_seconds else None
