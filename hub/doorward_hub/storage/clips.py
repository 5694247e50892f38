"""The index of recorded clips (table `clips`); the files live in the clip library's folder."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

from doorward_hub.models import Clip, ClipTrigger
from doorward_hub.storage.database import Database


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


class ClipRepository:
    """Clips by id, filtered pages of them, and removal."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def add_clip(self, clip: Clip) -> Clip:
        """Index a clip whose files are in place; returns it with its new id."""
        async with (
            self._db.write() as db,
            db.execute(
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
            ) as inserted,
        ):
            clip_id = inserted.lastrowid or 0
        return replace(clip, id=clip_id)

    async def get_clip(self, clip_id: int) -> Clip | None:
        """One clip by id."""
        row = await self._db.one("SELECT * FROM clips WHERE id = ?", (clip_id,))
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
        rows = await self._db.all(
            f"SELECT * FROM clips WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",  # noqa: S608 - fixed fragments
            (*params, limit),
        )
        return [_clip(row) for row in rows]

    async def all_clips(self) -> list[Clip]:
        """Every clip, oldest first (for retention and start-up checks)."""
        return [_clip(row) for row in await self._db.all("SELECT * FROM clips ORDER BY start, id")]

    async def delete_clips(self, clip_ids: list[int]) -> None:
        """Remove clips from the index."""
        async with self._db.write() as db:
            await db.executemany("DELETE FROM clips WHERE id = ?", [(i,) for i in clip_ids])
