"""SQLite persistence: hub identity, doorbells, events, clips, client tokens, pairing codes.

One aiosqlite connection (its own thread) serves the whole hub, so no call blocks the event loop.
Events are committed with `synchronous=FULL` before anyone is told about them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

import aiosqlite

from .models import Clip, ClipTrigger, Doorbell, Event, EventType, TokenInfo

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doorbells (
    id TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    capabilities TEXT NOT NULL,
    firmware TEXT,
    credentials TEXT NOT NULL,
    cursor TEXT,
    privacy_mode INTEGER NOT NULL DEFAULT 0,
    approved INTEGER NOT NULL DEFAULT 1,
    last_seen REAL,
    record_audio INTEGER NOT NULL DEFAULT 0,
    retention_days REAL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doorbell_id TEXT NOT NULL,
    type TEXT NOT NULL,
    time REAL NOT NULL,
    device_time REAL,
    presses INTEGER NOT NULL DEFAULT 1,
    has_snapshot INTEGER NOT NULL DEFAULT 0,
    button TEXT
);
CREATE INDEX IF NOT EXISTS events_by_doorbell ON events (doorbell_id, seq);
CREATE TABLE IF NOT EXISTS device_events (
    doorbell_id TEXT NOT NULL,
    device_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (doorbell_id, device_key)
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    client_name TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL
);
CREATE TABLE IF NOT EXISTS pairing_codes (hash TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS clips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doorbell_id TEXT NOT NULL,
    trigger TEXT NOT NULL,
    trigger_seq INTEGER,
    trigger_time REAL NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL UNIQUE,
    has_audio INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS clips_by_start ON clips (start);
"""

# Columns added after version 1, for databases created by an older hub.
_ADDED_COLUMNS = {
    "doorbells": {
        "record_audio": "INTEGER NOT NULL DEFAULT 0",
        "retention_days": "REAL",
    },
    "events": {"button": "TEXT"},
}


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


def _doorbell(row: sqlite3.Row) -> Doorbell:
    return Doorbell(
        id=row["id"],
        driver=row["driver"],
        name=row["name"],
        model=row["model"],
        host=row["host"],
        port=row["port"],
        capabilities=frozenset(json.loads(row["capabilities"])),
        firmware=row["firmware"],
        credentials=json.loads(row["credentials"]),
        cursor=row["cursor"],
        privacy_mode=bool(row["privacy_mode"]),
        record_audio=bool(row["record_audio"]),
        retention_days=row["retention_days"],
        approved=bool(row["approved"]),
        last_seen=row["last_seen"],
    )


def _clip(row: sqlite3.Row) -> Clip:
    return Clip(
        id=row["id"],
        doorbell_id=row["doorbell_id"],
        trigger=ClipTrigger(row["trigger"]),
        trigger_seq=row["trigger_seq"],
        trigger_time=row["trigger_time"],
        start=row["start"],
        end=row["end"],
        size=row["size"],
        sha256=row["sha256"],
        file_name=row["file_name"],
        has_audio=bool(row["has_audio"]),
    )


class Store:
    """The hub's database. Create with `await Store.open(path)`; `await close()` when done."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        """Wrap an open connection; use `open` instead."""
        self._db = db
        # Writers take this lock so that one's commit never splits another's transaction.
        self.write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open (creating if needed) the database at `path`."""
        db = await aiosqlite.connect(path)
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute("PRAGMA busy_timeout=5000")
        await db.executescript(_SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            async with db.execute(f"PRAGMA table_info({table})") as cursor:
                present = {row["name"] for row in await cursor.fetchall()}
            for name, definition in columns.items():
                if name not in present:
                    await db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
        await db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        await db.commit()
        return cls(db)

    async def close(self) -> None:
        """Close the connection (everything is already committed)."""
        await self._db.close()

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        async with self._db.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        async with self._db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    # Identity and settings
    async def get_value(self, key: str) -> str | None:
        """A stored setting, or None."""
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_value(self, key: str, value: str) -> None:
        """Store a setting."""
        async with self.write_lock:
            await self._db.execute(
                "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value)
            )
            await self._db.commit()

    # Doorbells
    async def load_doorbells(self) -> list[Doorbell]:
        """Every doorbell the hub has adopted or been offered."""
        return [_doorbell(row) for row in await self._all("SELECT * FROM doorbells ORDER BY id")]

    async def save_doorbell(self, doorbell: Doorbell) -> None:
        """Insert or update a doorbell's persistent fields."""
        async with self.write_lock:
            await self._db.execute(
                "INSERT OR REPLACE INTO doorbells (id, driver, name, model, host, port,"
                " capabilities, firmware, credentials, cursor, privacy_mode, approved, last_seen,"
                " record_audio, retention_days)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doorbell.id,
                    doorbell.driver,
                    doorbell.name,
                    doorbell.model,
                    doorbell.host,
                    doorbell.port,
                    json.dumps(sorted(doorbell.capabilities)),
                    doorbell.firmware,
                    json.dumps(doorbell.credentials),
                    doorbell.cursor,
                    int(doorbell.privacy_mode),
                    int(doorbell.approved),
                    doorbell.last_seen,
                    int(doorbell.record_audio),
                    doorbell.retention_days,
                ),
            )
            await self._db.commit()

    async def delete_doorbell(self, doorbell_id: str) -> None:
        """Forget a doorbell (its events stay in the history)."""
        async with self.write_lock:
            await self._db.execute("DELETE FROM doorbells WHERE id = ?", (doorbell_id,))
            await self._db.execute(
                "DELETE FROM device_events WHERE doorbell_id = ?", (doorbell_id,)
            )
            await self._db.commit()

    # Events
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
        async with self.write_lock:
            if device_key is not None and await self._one(
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
                await self._db.execute(
                    "UPDATE events SET presses = presses + 1 WHERE seq = ?", (seq,)
                )
            else:
                async with self._db.execute(
                    "INSERT INTO events (doorbell_id, type, time, device_time, button)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (doorbell_id, event_type.value, time, device_time, button),
                ) as inserted:
                    seq = inserted.lastrowid or 0
            if device_key is not None:
                await self._db.execute(
                    "INSERT INTO device_events (doorbell_id, device_key, seq) VALUES (?, ?, ?)",
                    (doorbell_id, device_key, seq),
                )
            if cursor is not None:
                await self._db.execute(
                    "UPDATE doorbells SET cursor = ?, last_seen = ? WHERE id = ?",
                    (cursor, time, doorbell_id),
                )
            await self._db.commit()
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
        row = await self._one(
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
        row = await self._one("SELECT * FROM events WHERE seq = ?", (seq,))
        return None if row is None else _event(row)

    async def events_after(
        self, after: int, limit: int, doorbell_id: str | None = None
    ) -> list[Event]:
        """Events with `seq > after`, oldest first, optionally of one doorbell."""
        if doorbell_id is None:
            rows = await self._all(
                "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            )
        else:
            rows = await self._all(
                "SELECT * FROM events WHERE seq > ? AND doorbell_id = ? ORDER BY seq LIMIT ?",
                (after, doorbell_id, limit),
            )
        return [_event(row) for row in rows]

    async def last_seq(self) -> int:
        """The highest event sequence number ever stored (0 if none)."""
        row = await self._one("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        return 0 if row is None else int(row["seq"])

    async def mark_snapshot(self, seq: int) -> None:
        """Note that the snapshot of event `seq` is stored."""
        async with self.write_lock:
            await self._db.execute("UPDATE events SET has_snapshot = 1 WHERE seq = ?", (seq,))
            await self._db.commit()

    # Clips
    async def add_clip(self, clip: Clip) -> Clip:
        """Index a clip whose files are in place; returns it with its new id."""
        async with self.write_lock:
            async with self._db.execute(
                "INSERT INTO clips (doorbell_id, trigger, trigger_seq, trigger_time, start, end,"
                " size, sha256, file_name, has_audio) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    clip.doorbell_id,
                    clip.trigger.value,
                    clip.trigger_seq,
                    clip.trigger_time,
                    clip.start,
                    clip.end,
                    clip.size,
                    clip.sha256,
                    clip.file_name,
                    int(clip.has_audio),
                ),
            ) as inserted:
                clip_id = inserted.lastrowid or 0
            await self._db.commit()
        return replace(clip, id=clip_id)

    async def get_clip(self, clip_id: int) -> Clip | None:
        """One clip by id."""
        row = await self._one("SELECT * FROM clips WHERE id = ?", (clip_id,))
        return None if row is None else _clip(row)

    async def list_clips(
        self,
        *,
        doorbell_id: str | None = None,
        trigger: ClipTrigger | None = None,
        since: float | None = None,
        until: float | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Clip]:
        """Clips, newest first, filtered; `before_id` pages (ids below it)."""
        where, params = ["1 = 1"], []
        filters: list[tuple[str, Any]] = [
            ("doorbell_id = ?", doorbell_id),
            ("trigger = ?", trigger.value if trigger else None),
            ("end >= ?", since),
            ("start <= ?", until),
            ("id < ?", before_id),
        ]
        for condition, value in filters:
            if value is not None:
                where.append(condition)
                params.append(value)
        rows = await self._all(
            f"SELECT * FROM clips WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",  # noqa: S608 - fixed fragments
            (*params, limit),
        )
        return [_clip(row) for row in rows]

    async def all_clips(self) -> list[Clip]:
        """Every clip, oldest first (for retention and start-up checks)."""
        return [_clip(row) for row in await self._all("SELECT * FROM clips ORDER BY start, id")]

    async def delete_clips(self, clip_ids: list[int]) -> None:
        """Remove clips from the index."""
        async with self.write_lock:
            await self._db.executemany("DELETE FROM clips WHERE id = ?", [(i,) for i in clip_ids])
            await self._db.commit()

    # Client tokens
    async def add_token(self, token: TokenInfo, token_hash: str) -> None:
        """Store a newly issued token (by its hash)."""
        async with self.write_lock:
            await self._db.execute(
                "INSERT INTO tokens (id, hash, client_name, created) VALUES (?, ?, ?, ?)",
                (token.id, token_hash, token.client_name, token.created),
            )
            await self._db.commit()

    async def token_hashes(self) -> dict[str, str]:
        """Map of token hash to token id, for every valid token."""
        return {row["hash"]: row["id"] for row in await self._all("SELECT id, hash FROM tokens")}

    async def list_tokens(self) -> list[TokenInfo]:
        """Every valid token, oldest first."""
        rows = await self._all("SELECT * FROM tokens ORDER BY created")
        return [
            TokenInfo(row["id"], row["client_name"], row["created"], row["last_used"])
            for row in rows
        ]

    async def delete_token(self, token_id: str) -> bool:
        """Revoke a token; False if there was none with that id."""
        async with self.write_lock:
            async with self._db.execute("DELETE FROM tokens WHERE id = ?", (token_id,)) as deleted:
                found = deleted.rowcount > 0
            await self._db.commit()
            return found

    async def touch_token(self, token_id: str, when: float) -> None:
        """Record when a token was last used."""
        async with self.write_lock:
            await self._db.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (when, token_id))
            await self._db.commit()

    # Pairing codes
    async def add_pairing_code(self, code_hash: str, expires: float) -> None:
        """Store a one-time pairing code (by its hash)."""
        async with self.write_lock:
            await self._db.execute(
                "INSERT OR REPLACE INTO pairing_codes (hash, expires) VALUES (?, ?)",
                (code_hash, expires),
            )
            await self._db.commit()

    async def redeem_pairing_code(self, code_hash: str, now: float) -> bool:
        """Use up a code: True if it existed and had not expired. Expired codes are purged."""
        async with self.write_lock:
            await self._db.execute("DELETE FROM pairing_codes WHERE expires < ?", (now,))
            async with self._db.execute(
                "DELETE FROM pairing_codes WHERE hash = ?", (code_hash,)
            ) as deleted:
                found = deleted.rowcount > 0
            await self._db.commit()
            return found

    async def clear_pairing_codes(self) -> None:
        """Invalidate every outstanding pairing code."""
        async with self.write_lock:
            await self._db.execute("DELETE FROM pairing_codes")
            await self._db.commit()
