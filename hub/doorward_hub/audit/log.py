"""An append-only, hash-chained audit log in one JSON-lines file.

Each entry names what happened (`action`), who did it (`actor`), to what (`subject`) and the
details, plus the previous entry's hash; its own hash is SHA-256 over the canonical JSON of all
of that. Changing, removing or reordering any entry breaks every hash after it, which
`verify` finds. The file is opened for appending only and fsynced after each entry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from canonicaljson import encode_canonical_json

GENESIS: Final = "0" * 64
LOG_FILE: Final = "audit.jsonl"


class AuditLogBroken(Exception):
    """The log's chain does not hold: an entry was changed, removed or reordered."""


@dataclass(frozen=True)
class AuditEntry:
    """One line of the log."""

    seq: int
    time_ms: int
    action: str
    actor: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """Everything the hash covers."""
        return {
            "seq": self.seq,
            "time_ms": self.time_ms,
            "action": self.action,
            "actor": self.actor,
            "subject": self.subject,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }


def entry_hash(body: dict[str, Any]) -> str:
    """SHA-256 (hex) of an entry's canonical JSON without its own hash."""
    return hashlib.sha256(encode_canonical_json(body)).hexdigest()


class AuditLog:
    """The hub's audit log in `<data>/audit.jsonl` (0600)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        """Use the log at `path`; call `open` before appending."""
        self.path = path
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tip: tuple[int, str] = (0, GENESIS)

    @classmethod
    async def open(cls, data_dir: Path, clock: Callable[[], float] = time.time) -> AuditLog:
        """Open (or start) the log in `data_dir`, checking the whole chain first."""
        log = cls(data_dir / LOG_FILE, clock)
        entries = await log.entries()
        if entries:
            log._tip = (entries[-1].seq, entries[-1].hash)
        return log

    async def append(
        self, action: str, actor: str, subject: str, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        """Write one entry and return it once it is on disk."""
        async with self._lock:
            seq, prev_hash = self._tip
            body: dict[str, Any] = {
                "seq": seq + 1,
                "time_ms": int(self._clock() * 1000),
                "action": action,
                "actor": actor,
                "subject": subject,
                "details": details or {},
                "prev_hash": prev_hash,
            }
            entry = AuditEntry(**body, hash=entry_hash(body))
            line = encode_canonical_json({**body, "hash": entry.hash}) + b"\n"
            await asyncio.to_thread(self._write, line)
            self._tip = (entry.seq, entry.hash)
            return entry

    def _write(self, line: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def entries(self) -> list[AuditEntry]:
        """Every entry, oldest first; `AuditLogBroken` if the chain does not hold."""
        return await asyncio.to_thread(self._read_verified)

    def _read_verified(self) -> list[AuditEntry]:
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        entries: list[AuditEntry] = []
        prev = (0, GENESIS)
        for number, line in enumerate(lines, start=1):
            try:
                raw = json.loads(line)
                entry = AuditEntry(**raw)
            except (ValueError, TypeError) as err:
                raise AuditLogBroken(f"line {number} is not an audit entry") from err
            if entry.seq != prev[0] + 1 or entry.prev_hash != prev[1]:
                raise AuditLogBroken(f"line {number} does not follow entry {prev[0]}")
            if entry_hash(entry.body()) != entry.hash:
                raise AuditLogBroken(f"line {number} was changed after it was written")
            entries.append(entry)
            prev = (entry.seq, entry.hash)
        return entries
