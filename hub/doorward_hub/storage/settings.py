"""Hub-wide settings and identity, as key/value pairs (table `kv`)."""

from __future__ import annotations

from doorward_hub.storage.database import Database


class SettingsRepository:
    """Small named values: the hub's id, the doorbells the owner forgot."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def get_value(self, key: str) -> str | None:
        """A stored setting, or None."""
        row = await self._db.one("SELECT value FROM kv WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_value(self, key: str, value: str) -> None:
        """Store a setting."""
        async with self._db.write() as db:
            await db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))
