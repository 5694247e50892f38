"""The agency's evidence store: received answers, verified or marked unverified, kept until the
household's retention ends, every view, download and deletion in the audit log."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from nio.crypto.attachments import decrypt_attachment

from ..audit.log import AuditLog
from ..core.files import private_folder, read_json, write_json_atomically

INDEX_FILE: Final = "evidence.json"
MAX_UNVERIFIED_KEEP_MS: Final = 7 * 86_400_000
"""Unverified footage is kept at most this long (its manifest's expiry cannot be trusted)."""


class EvidenceNotFound(Exception):
    """No such evidence item (never received, or deleted at its retention)."""


@dataclass(frozen=True)
class EvidenceItem:
    """One received clip of an answer."""

    evidence_id: str
    request_id: str
    case_number: str
    sender: str
    received_ms: int
    verified: bool
    verification: str
    expires_ms: int
    sha256: str | None
    file: str | None
    manifest: dict[str, Any] | None


def decrypt_clip(ciphertext: bytes, file_block: dict[str, Any]) -> bytes | None:
    """The attachment's plaintext, or None if it does not decrypt or its hash does not match."""
    try:
        plaintext: bytes = decrypt_attachment(
            ciphertext,
            str(file_block["key"]["k"]),
            str(file_block["hashes"]["sha256"]),
            str(file_block["iv"]),
        )
    except Exception:  # nio raises EncryptionError or a crypto library's ValueError
        return None
    return plaintext


class EvidenceStore:
    """`<data>/police/evidence/`: the index and the decrypted clips (0600)."""

    def __init__(self, folder: Path, audit: AuditLog, clock: Callable[[], float] = time.time):
        """Keep evidence in `folder`, log to `audit`."""
        self.folder = private_folder(folder)
        self._audit = audit
        self._clock = clock
        self._lock = asyncio.Lock()

    def items(self) -> list[EvidenceItem]:
        """Every item still kept, oldest first."""
        raw: dict[str, Any] = read_json(self.folder / INDEX_FILE) or {}
        return sorted((EvidenceItem(**v) for v in raw.values()), key=lambda i: i.received_ms)

    async def add(self, item: EvidenceItem, plaintext: bytes | None) -> EvidenceItem:
        """Store a received clip and its verification; logged as `evidence.received`."""
        async with self._lock:
            if item.evidence_id in {i.evidence_id for i in self.items()}:
                return item  # the sync replayed it after a restart
            stored = item
            if plaintext is not None:
                name = f"{item.evidence_id}.mp4"
                await asyncio.to_thread(_write_private, self.folder / name, plaintext)
                stored = EvidenceItem(**{**asdict(item), "file": name})
            self._write({**self._index(), item.evidence_id: asdict(stored)})
        await self._audit.append(
            "evidence.received",
            item.sender,
            f"evidence:{item.evidence_id}",
            {
                "request_id": item.request_id,
                "case_number": item.case_number,
                "verified": item.verified,
                "verification": item.verification,
                "sha256": item.sha256,
                "expires_ms": item.expires_ms,
            },
        )
        return stored

    async def open(self, evidence_id: str, officer: str, *, download: bool = False) -> Path:
        """The clip's file for an officer; logged as `evidence.viewed` or `.downloaded`."""
        item = next((i for i in self.items() if i.evidence_id == evidence_id), None)
        if item is None or item.file is None or item.expires_ms <= self._now():
            raise EvidenceNotFound(f"no evidence {evidence_id!r} is kept")
        await self._audit.append(
            "evidence.downloaded" if download else "evidence.viewed",
            officer,
            f"evidence:{evidence_id}",
            {"request_id": item.request_id, "case_number": item.case_number},
        )
        return self.folder / item.file

    async def delete(self, evidence_id: str, officer: str, reason: str) -> None:
        """Delete one item before its retention ends; logged as `evidence.deleted`."""
        async with self._lock:
            index = self._index()
            raw = index.pop(evidence_id, None)
            if raw is None:
                raise EvidenceNotFound(f"no evidence {evidence_id!r} is kept")
            if raw.get("file"):
                await asyncio.to_thread((self.folder / raw["file"]).unlink, missing_ok=True)
            self._write(index)
        await self._audit.append(
            "evidence.deleted",
            officer,
            f"evidence:{evidence_id}",
            {"request_id": raw["request_id"], "case_number": raw["case_number"], "reason": reason},
        )

    async def enforce_retention(self) -> list[str]:
        """Delete every item whose retention ended; their ids (each logged)."""
        now = self._now()
        async with self._lock:
            index = self._index()
            ended = [key for key, raw in index.items() if int(raw["expires_ms"]) <= now]
            for key in ended:
                file = index[key].get("file")
                if file:
                    await asyncio.to_thread((self.folder / file).unlink, missing_ok=True)
                del index[key]
            if ended:
                self._write(index)
        for key in ended:
            await self._audit.append(
                "evidence.deleted", "retention", f"evidence:{key}", {"retention_ended_ms": now}
            )
        return ended

    def _index(self) -> dict[str, Any]:
        return dict(read_json(self.folder / INDEX_FILE) or {})

    def _write(self, index: dict[str, Any]) -> None:
        write_json_atomically(self.folder / INDEX_FILE, index)

    def _now(self) -> int:
        return int(self._clock() * 1000)


def _write_private(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)


def sha256_hex(data: bytes) -> str:
    """SHA-256 (hex) of bytes."""
    return hashlib.sha256(data).hexdigest()
