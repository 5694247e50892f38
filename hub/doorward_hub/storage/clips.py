"""The index of recorded clips (table `clips`); the files live in the clip library's folder.

Adding or removing a clip stores, in the same transaction, the push message that announces it
(table `clip_notices`), numbered from the events' sequence: a client resuming after a seq gets
every event and clip message it missed, once each and in order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import aiosqlite

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


type Notice = dict[str, Any]
"""A push message announcing a clip or its removal (JSON-serializable)."""


async def _store_notice(db: aiosqlite.Connection, notice: Callable[[int], Notice]) -> Notice:
    """Number `notice(seq)` with the next seq of the events' sequence and store it (inside the
    caller's write transaction)."""
    async with db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'") as cursor:
        row = await cursor.fetchone()
    seq = (0 if row is None else int(row[0])) + 1
    if row is None:
        await db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (seq,))
    else:
        await db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (seq,))
    message = notice(seq)
    await db.execute(
        "INSERT INTO clip_notices (seq, message) VALUES (?, ?)", (seq, json.dumps(message))
    )
    return message


class ClipRepository:
    """Clips by id, filtered pages of them, and removal."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def add_clip(
        self, clip: Clip, notice: Callable[[Clip, int], Notice]
    ) -> tuple[Clip, Notice]:
        """Index a clip whose files are in place, with `notice(clip, seq)` announcing it;
        returns the clip with its new id and the notice."""
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
            clip = replace(clip, id=inserted.lastrowid or 0)
            message = await _store_notice(db, lambda seq: notice(clip, seq))
        return clip, message

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

    async def delete_clips(
        self, clip_ids: list[int], notice: Callable[[int, int], Notice]
    ) -> list[Notice]:
        """Remove clips from the index, each with `notice(clip_id, seq)` announcing it; returns
        the notices in seq order."""
        messages = []
        async with self._db.write() as db:
            for clip_id in clip_ids:
                async with db.execute("DELETE FROM clips WHERE id = ?", (clip_id,)) as deleted:
                    removed = deleted.rowcount > 0
                if removed:
                    messages.append(await _store_notice(db, partial(notice, clip_id)))
        return messages

    async def notices_after(self, after: int, limit: int) -> list[tuple[int, Notice]]:
        """The stored clip messages with `seq > after`, oldest first, with their seq."""
        rows = await self._db.all(
            "SELECT seq, message FROM clip_notices WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [(int(row["seq"]), json.loads(row["message"])) for row in rows]
