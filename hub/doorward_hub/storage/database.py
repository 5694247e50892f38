"""The SQLite connection: one aiosqlite connection (its own thread) for the whole hub.

Writers go through `write()`, which holds one lock and commits at the end, so one writer's commit
never splits another's transaction. What takes a seq (events, clip rows with their messages) is
written apart, by group commit on the event writer's own connection (`event_writer.py`); both
commit with `synchronous=FULL`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import aiosqlite

from doorward_hub.core.files import create_private_file
from doorward_hub.storage.migrations import migrate


class Database:
    """The hub's database. Create with `await Database.open(path)`; `await close()` when done."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        """Wrap an open, migrated connection; use `open` instead."""
        self.connection = connection
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open (creating if needed) the database at `path` and bring its schema up to date."""
        # SQLite gives the -wal and -shm files the database file's mode: create it private.
        await asyncio.to_thread(create_private_file, path)
        connection = await aiosqlite.connect(path)
        try:
            connection.row_factory = sqlite3.Row
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA synchronous=FULL")
            await connection.execute("PRAGMA busy_timeout=5000")
            await migrate(connection)
        except BaseException:
            await connection.close()
            raise
        return cls(connection)

    async def close(self) -> None:
        """Close the connection (everything is already committed)."""
        await self.connection.close()

    async def one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        async with self.connection.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Every row of a query."""
        async with self.connection.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: the connection, under the write lock, committed at the end."""
        async with self._write_lock:
            try:
                yield self.connection
            except BaseException:
                await self.connection.rollback()
                raise
            await self.connection.commit()
