"""Numbered schema migrations, keyed on SQLite's `PRAGMA user_version`.

Migration N brings a database from version N-1 to N, in one transaction that also sets the
version. Databases made before versions were read (version 0 or 1 with or without the later
columns) are brought up to date too: version 1 only creates what is missing, version 2 only adds
the columns that are absent. A database from a newer hub is refused, never downgraded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosqlite


class SchemaTooNew(Exception):
    """The database was written by a newer hub than this one."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: `apply` runs inside the transaction that sets `version`."""

    version: int
    description: str
    apply: Callable[[aiosqlite.Connection], Awaitable[None]]


_INITIAL_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS doorbells (
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
        last_seen REAL
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doorbell_id TEXT NOT NULL,
        type TEXT NOT NULL,
        time REAL NOT NULL,
        device_time REAL,
        presses INTEGER NOT NULL DEFAULT 1,
        has_snapshot INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS events_by_doorbell ON events (doorbell_id, seq)",
    """CREATE TABLE IF NOT EXISTS device_events (
        doorbell_id TEXT NOT NULL,
        device_key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (doorbell_id, device_key)
    )""",
    """CREATE TABLE IF NOT EXISTS tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        client_name TEXT NOT NULL,
        created REAL NOT NULL,
        last_used REAL
    )""",
    "CREATE TABLE IF NOT EXISTS pairing_codes (hash TEXT PRIMARY KEY, expires REAL NOT NULL)",
    """CREATE TABLE IF NOT EXISTS clips (
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
    )""",
    "CREATE INDEX IF NOT EXISTS clips_by_start ON clips (start)",
)


async def _initial_schema(db: aiosqlite.Connection) -> None:
    for statement in _INITIAL_SCHEMA:
        await db.execute(statement)


async def _add_missing_columns(
    db: aiosqlite.Connection, table: str, columns: dict[str, str]
) -> None:
    async with db.execute(f"PRAGMA table_info({table})") as cursor:
        present = {row[1] for row in await cursor.fetchall()}
    for name, definition in columns.items():
        if name not in present:
            await db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")


async def _doorbell_recording_settings(db: aiosqlite.Connection) -> None:
    await _add_missing_columns(
        db,
        "doorbells",
        {"record_audio": "INTEGER NOT NULL DEFAULT 0", "retention_days": "REAL"},
    )


async def _event_button(db: aiosqlite.Connection) -> None:
    await _add_missing_columns(db, "events", {"button": "TEXT"})


async def _clip_notices(db: aiosqlite.Connection) -> None:
    # `clip` and `clip_removed` push messages, stored to be replayed; their seq is drawn from
    # the events' sequence (`sqlite_sequence`), so events and clip messages share one order.
    await db.execute(
        "CREATE TABLE IF NOT EXISTS clip_notices (seq INTEGER PRIMARY KEY, message TEXT NOT NULL)"
    )


MIGRATIONS = (
    Migration(1, "tables of doorbells, events, tokens, pairing codes, clips", _initial_schema),
    Migration(2, "per-doorbell audio recording and retention", _doorbell_recording_settings),
    Migration(3, "the button of a press on multi-button stations", _event_button),
    Migration(4, "clip messages replayed with events, in the same seq order", _clip_notices),
)
LATEST_VERSION = MIGRATIONS[-1].version


async def schema_version(db: aiosqlite.Connection) -> int:
    """The database's `user_version`."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def migrate(db: aiosqlite.Connection) -> None:
    """Apply every migration newer than the database's version, each in its own transaction."""
    current = await schema_version(db)
    if current > LATEST_VERSION:
        raise SchemaTooNew(
            f"the database has schema version {current}; this hub knows up to {LATEST_VERSION}"
        )
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            await migration.apply(db)
            await db.execute(f"PRAGMA user_version={migration.version}")
        except BaseException:
            await db.rollback()
            raise
        await db.commit()
