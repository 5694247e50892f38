"""The database: numbered migrations keyed on `user_version`, from every schema hubs wrote."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from doorward_hub.models import Doorbell, EventType
from doorward_hub.storage.migrations import LATEST_VERSION, SchemaTooNew
from doorward_hub.storage.repositories import Repositories

# The schema as hub 0.1.0 wrote it (user_version 2): the two recording columns were added to
# version-1 databases by ALTER TABLE.
SCHEMA_0_1 = """
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE doorbells (
    id TEXT PRIMARY KEY, driver TEXT NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL,
    host TEXT NOT NULL, port INTEGER NOT NULL, capabilities TEXT NOT NULL, firmware TEXT,
    credentials TEXT NOT NULL, cursor TEXT, privacy_mode INTEGER NOT NULL DEFAULT 0,
    approved INTEGER NOT NULL DEFAULT 1, last_seen REAL{recording_columns}
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, doorbell_id TEXT NOT NULL, type TEXT NOT NULL,
    time REAL NOT NULL, device_time REAL, presses INTEGER NOT NULL DEFAULT 1,
    has_snapshot INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_by_doorbell ON events (doorbell_id, seq);
CREATE TABLE device_events (
    doorbell_id TEXT NOT NULL, device_key TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (doorbell_id, device_key)
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, client_name TEXT NOT NULL,
    created REAL NOT NULL, last_used REAL
);
CREATE TABLE pairing_codes (hash TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE clips (
    id INTEGER PRIMARY KEY AUTOINCREMENT, doorbell_id TEXT NOT NULL, trigger TEXT NOT NULL,
    trigger_seq INTEGER, trigger_time REAL NOT NULL, start REAL NOT NULL, end REAL NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, file_name TEXT NOT NULL UNIQUE,
    has_audio INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX clips_by_start ON clips (start);
"""
RECORDING_COLUMNS = ",\n    record_audio INTEGER NOT NULL DEFAULT 0,\n    retention_days REAL"


def _old_database(path: Path, version: int, *, recording_columns: bool) -> None:
    """A database as an older hub left it, with one doorbell, one event and one token."""
    with sqlite3.connect(path) as db:
        db.executescript(
            SCHEMA_0_1.format(recording_columns=RECORDING_COLUMNS if recording_columns else "")
        )
        db.execute(
            "INSERT INTO doorbells (id, driver, name, model, host, port, capabilities,"
            " credentials, privacy_mode) VALUES"
            " ('front', 'doorward', 'Front', 'Sim', '127.0.0.1', 8080, '[\"press\"]', '{}', 1)"
        )
        db.execute("INSERT INTO events (doorbell_id, type, time) VALUES ('front', 'press', 1.0)")
        db.execute(
            "INSERT INTO tokens (id, hash, client_name, created) VALUES ('tok_1', 'h', 'ha', 1.0)"
        )
        db.execute(f"PRAGMA user_version={version}")
    db.close()


def _version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
    db.close()
    return version


async def _check_contents(path: Path, retention_days: float | None) -> None:
    stored = await Repositories.open(path)
    try:
        [doorbell] = await stored.doorbells.load_doorbells()
        assert (doorbell.id, doorbell.privacy_mode, doorbell.record_audio) == ("front", True, False)
        assert doorbell.retention_days == retention_days
        event = (await stored.events.events_after(0, 10))[0]
        assert (event.seq, event.type, event.button) == (1, EventType.PRESS, None)
        assert [t.id for t in await stored.tokens.list_tokens()] == ["tok_1"]
        # The migrated columns take writes.
        doorbell.retention_days = 3.0
        await stored.doorbells.save_doorbell(doorbell)
        [saved] = await stored.doorbells.load_doorbells()
        assert saved.retention_days == 3.0
        stored_press = await stored.events.record_event(
            doorbell_id="front",
            event_type=EventType.PRESS,
            time=2e9,
            device_time=None,
            device_key=None,
            cursor=None,
            merge_seconds=0,
            button="102",
        )
        assert stored_press is not None
        assert stored_press[0].button == "102"
    finally:
        await stored.close()
    assert _version(path) == LATEST_VERSION


async def test_a_new_database_gets_the_latest_schema(tmp_path: Path) -> None:
    stored = await Repositories.open(tmp_path / "hub.db")
    try:
        await stored.doorbells.save_doorbell(
            Doorbell("front", "doorward", "Front", "Sim", "127.0.0.1", 8080, frozenset())
        )
        assert [d.id for d in await stored.doorbells.load_doorbells()] == ["front"]
    finally:
        await stored.close()
    assert _version(tmp_path / "hub.db") == LATEST_VERSION == 4


@pytest.mark.parametrize(
    ("version", "recording_columns"),
    [
        (1, False),  # written by the first hub: migration 2 adds the recording columns
        (0, False),  # written before versions were set: both migrations run
        (0, True),  # unversioned but already altered: migration 2 adds only what is missing
        (2, True),  # written by hub 0.1.0: migration 3 adds the button of a press
    ],
)
async def test_older_databases_are_migrated_with_their_data(
    tmp_path: Path, version: int, recording_columns: bool
) -> None:
    path = tmp_path / "hub.db"
    _old_database(path, version, recording_columns=recording_columns)
    await _check_contents(path, None)
    await _check_contents(path, 3.0)  # opening again keeps what was written


async def test_a_database_from_a_newer_hub_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    _old_database(path, LATEST_VERSION + 1, recording_columns=True)
    with pytest.raises(SchemaTooNew, match=f"schema version {LATEST_VERSION + 1}"):
        await Repositories.open(path)
    assert _version(path) == LATEST_VERSION + 1
