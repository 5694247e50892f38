"""The index of recorded clips (table `clips`); the files live in the clip library's folder.

Adding or removing a clip stores, in the same transaction, the push message that announces it
(table `clip_notices`), numbered from the events' sequence: a client resuming after a seq gets
every event and clip message it missed, once each and in order. These writes take a seq, so they
go through the event writer with the events: one writer numbers, commits and publishes every seq
in order (see `event_writer.py`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from doorward_hub.models import Clip, ClipTrigger
from doorward_hub.storage.database import Database
from doorward_hub.storage.event_writer import EventWriter


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


type Publish = Callable[[Notice], None]
"""Called on the event loop with each notice once it is durable, in seq order."""


def _store_notice(db: sqlite3.Connection, notice: Callable[[int], Notice]) -> Notice:
    """Number `notice(seq)` with the next seq of the events' sequence and store it (inside the
    event writer's transaction)."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    seq = (0 if row is None else int(row[0])) + 1
    if row is None:
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (seq,))
    else:
        db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (seq,))
    message = notice(seq)
    db.execute("INSERT INTO clip_notices (seq, message) VALUES (?, ?)", (seq, json.dumps(message)))
    return message


class ClipRepository:
    """Clips by id, filtered pages of them, and removal."""

    def __init__(self, db: Database, writer: EventWriter) -> None:
        """Read through `db`; write through `writer`, which also numbers and stores the events."""
        self._db = db
        self._writer = writer

    async def add_clip(
        self, clip: Clip, notice: Callable[[Clip, int], Notice], publish: Publish | None = None
    ) -> tuple[Clip, Notice]:
        """Index a clip whose files are in place, with `notice(clip, seq)` announcing it;
        returns the clip with its new id and the notice once durable, after `publish(notice)`."""

        def work(db: sqlite3.Connection) -> tuple[Clip, Notice]:
            inserted = db.execute(
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
            )
            added = replace(clip, id=inserted.lastrowid or 0)
            return added, _store_notice(db, partial(notice, added))

        def published(result: tuple[Clip, Notice]) -> None:
            if publish is not None:
                publish(result[1])

        return await self._writer.submit(work, published)

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
        self,
        clip_ids: list[int],
        notice: Callable[[int, int], Notice],
        publish: Publish | None = None,
    ) -> list[Notice]:
        """Remove clips from the index, each with `notice(clip_id, seq)` announcing it; returns
        the notices in seq order once durable, after `publish` got each of them."""

        def work(db: sqlite3.Connection) -> list[Notice]:
            messages = []
            for clip_id in clip_ids:
                if db.execute("DELETE FROM clips WHERE id = ?", (clip_id,)).rowcount > 0:
                    messages.append(_store_notice(db, partial(notice, clip_id)))
            return messages

        def published(messages: list[Notice]) -> None:
            if publish is not None:
                for message in messages:
                    publish(message)

        return await self._writer.submit(work, published)

    async def notices_after(self, after: int, limit: int) -> list[tuple[int, Notice]]:
        """The stored clip messages with `seq > after`, oldest first, with their seq."""
        rows = await self._db.all(
            "SELECT seq, message FROM clip_notices WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [(int(row["seq"]), json.loads(row["message"])) for row in rows]
