"""The event writer: one thread with its own SQLite connection that stores events by group commit.

Everything that takes a seq goes through it (events, and clip rows with the messages announcing
them): one writer numbers and commits them, and publishes each from its `on_durable` callback in
submission order, so subscribers see every seq once, in order, and only once it is durable.

A press must never wait behind other work, nor behind the `fsync` of every press before it. The
writer takes whatever was submitted while its previous commit was in flight, runs it in one
transaction (each piece of work in its own savepoint, so one failure spoils only its own), and
commits once with `synchronous=FULL`: one `fsync` makes the whole batch durable. Only then are
the results handed back to the event loop, in submission order, so nothing is acknowledged
before it would survive `kill -9` or a power loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

_LOGGER = logging.getLogger(__name__)

# The most pieces of work one transaction takes; more wait for the next commit.
MAX_BATCH = 256

type Work[T] = Callable[[sqlite3.Connection], T]


@dataclass(slots=True)
class _Request:
    work: Work[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    # Called on the event loop with the result once it is durable, even if the caller has gone.
    on_durable: Callable[[Any], None] | None


class EventWriterClosed(RuntimeError):
    """Work was submitted after `close()`."""


class EventWriter:
    """Group-committing writer. Create with `await EventWriter.open(path)`, `await close()`."""

    def __init__(self, path: Path) -> None:
        """Prepare a writer for the migrated database at `path`; use `open` instead."""
        self._path = path
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="doorward-event-writer", daemon=True)
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._closing = False
        self.commits = 0  # transactions committed, for benchmarks and tests

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Start the writer thread and its connection to the database at `path`."""
        writer = cls(path)
        writer._thread.start()
        await asyncio.to_thread(writer._ready.wait)
        if writer._open_error is not None:
            await asyncio.to_thread(writer._thread.join)
            raise writer._open_error
        return writer

    async def submit[T](self, work: Work[T], on_durable: Callable[[T], None] | None = None) -> T:
        """Run `work(connection)` in the next transaction; return its result once committed.

        `on_durable(result)` runs on the event loop right after the commit, before the caller
        resumes and in submission order across all callers, even if the caller was cancelled
        meanwhile (the work still runs): the place to publish what was stored.
        """
        if self._closing:
            raise EventWriterClosed("the event writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._requests.put(_Request(work, loop, future, on_durable))
        return await future

    async def close(self) -> None:
        """Finish the work already submitted, then close the connection and the thread."""
        if not self._closing:
            self._closing = True
            self._requests.put(None)
        await asyncio.to_thread(self._thread.join)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        return connection

    def _run(self) -> None:
        try:
            connection = self._connect()
        except BaseException as error:  # handed to `open`
            self._open_error = error
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._requests.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._requests.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                self._commit(connection, batch)
                if stop:
                    return
        finally:
            connection.close()

    def _commit(self, connection: sqlite3.Connection, batch: list[_Request]) -> None:
        """Run a batch in one transaction and hand each result back once it is durable."""
        outcomes: list[tuple[bool, Any]] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            for request in batch:
                connection.execute("SAVEPOINT work")
                try:
                    result = request.work(connection)
                except Exception as error:
                    connection.execute("ROLLBACK TO work")
                    outcomes.append((False, error))
                else:
                    outcomes.append((True, result))
                connection.execute("RELEASE work")
            connection.execute("COMMIT")
        except Exception as error:
            _LOGGER.exception("Could not store a batch of %d writes", len(batch))
            if connection.in_transaction:
                connection.rollback()
            outcomes = [(False, error)] * len(batch)
        else:
            self.commits += 1
        loops = {request.loop for request in batch}
        for loop in loops:
            mine = [(r, o) for r, o in zip(batch, outcomes, strict=True) if r.loop is loop]
            # A closed loop has nobody waiting for these results any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_deliver, mine)


def _deliver(results: list[tuple[_Request, tuple[bool, Any]]]) -> None:
    """On the event loop: run each durable result's callback, then wake its caller, in order."""
    for request, (ok, value) in results:
        if ok and request.on_durable is not None:
            try:
                request.on_durable(value)
            except Exception:
                _LOGGER.exception("Publishing what was stored failed")
        if request.future.done():
            continue
        if ok:
            request.future.set_result(value)
        else:
            request.future.set_exception(value)
