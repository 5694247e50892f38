"""Events in sequence order, and the device keys that make storing them idempotent
(tables `events`, `device_events`)."""

from __future__ import annotations

import sqlite3

from doorward_hub.models import Event, EventType
from doorward_hub.storage.database import Database


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
    """Stores device events once each, merges repeated presses, pages through history."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

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
    ) -> tuple[Event, bool] | None:
        """Store a device event in one transaction, with the doorbell's new cursor.

        Returns (event, merged): `merged` is True when a press was folded into the previous press
        of the same doorbell and button within `merge_seconds`. Returns None for a device event
        already stored.
        """
        async with self._db.write() as db:
            if device_key is not None and await self._db.one(
                "SELECT 1 FROM device_events WHERE doorbell_id = ? AND device_key = ?",
                (doorbell_id, device_key),
            ):
                return None
            merged_into = None
            if event_type is EventType.PRESS and merge_seconds > 0:
                merged_into = await self._mergeable_press(
                    doorbell_id, time, device_time, merge_seconds, button
                )
            if merged_into is not None:
                seq = merged_into.seq
                await db.execute("UPDATE events SET presses = presses + 1 WHERE seq = ?", (seq,))
            else:
                async with db.execute(
                    "INSERT INTO events (doorbell_id, type, time, device_time, button)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (doorbell_id, event_type.value, time, device_time, button),
                ) as inserted:
                    seq = inserted.lastrowid or 0
            if device_key is not None:
                await db.execute(
                    "INSERT INTO device_events (doorbell_id, device_key, seq) VALUES (?, ?, ?)",
                    (doorbell_id, device_key, seq),
                )
            if cursor is not None:
                await db.execute(
                    "UPDATE doorbells SET cursor = ?, last_seen = ? WHERE id = ?",
                    (cursor, time, doorbell_id),
                )
            event = await self.get_event(seq)
            assert event is not None  # written in this transaction
            return event, merged_into is not None

    async def _mergeable_press(
        self,
        doorbell_id: str,
        time: float,
        device_time: float | None,
        merge_seconds: float,
        button: str | None,
    ) -> Event | None:
        row = await self._db.one(
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
        async with self._db.write() as db:
            await db.execute("UPDATE events SET has_snapshot = 1 WHERE seq = ?", (seq,))
