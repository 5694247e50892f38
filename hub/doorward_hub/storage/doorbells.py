"""Doorbells the hub adopted or was offered (table `doorbells`)."""

from __future__ import annotations

import json
import sqlite3

from doorward_hub.models import Doorbell
from doorward_hub.storage.database import Database


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


class DoorbellRepository:
    """Each doorbell's persistent fields; live state (status, error) is not stored."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def load_doorbells(self) -> list[Doorbell]:
        """Every doorbell the hub has adopted or been offered."""
        return [_doorbell(row) for row in await self._db.all("SELECT * FROM doorbells ORDER BY id")]

    async def save_doorbell(self, doorbell: Doorbell) -> None:
        """Insert or update a doorbell's persistent fields."""
        async with self._db.write() as db:
            await db.execute(
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

    async def delete_doorbell(self, doorbell_id: str) -> None:
        """Forget a doorbell (its events stay in the history)."""
        async with self._db.write() as db:
            await db.execute("DELETE FROM doorbells WHERE id = ?", (doorbell_id,))
            await db.execute("DELETE FROM device_events WHERE doorbell_id = ?", (doorbell_id,))
