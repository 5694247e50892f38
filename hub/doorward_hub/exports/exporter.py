"""The export pipeline: grant -> redaction hook -> package -> deliver, written to the audit log.

Nothing leaves without a `Grant`: one human action on one item, used once. There is no other
entry point and no automatic grant anywhere (DESIGN.md, privacy invariant 2).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..audit.log import AuditLog
from .clip import ExportClip
from .identity_key import IdentityKey
from .manifest import ManifestItem, signed_manifest
from .package import EncryptedFile, MediaFacts, encrypt_file, media_facts, sha256_file
from .redaction_hook import NoRedaction, Redacted, Redactor

VIDEO_NAME = "clip.mp4"


class ExportRefused(Exception):
    """The export was not allowed; the message says why."""


@dataclass(frozen=True)
class Grant:
    """A person's decision to share one item, once."""

    grant_id: str
    actor: str
    """Who decided (the client's or user's name as the hub API authenticated it)."""
    item_id: str
    purpose: str
    """`neighbor_post` or `police_answer`."""

    @classmethod
    def new(cls, actor: str, item_id: str, purpose: str) -> Grant:
        """A fresh grant for one action."""
        return cls(secrets.token_hex(8), actor, item_id, purpose)


@dataclass(frozen=True)
class ExportPackage:
    """Everything a delivery sends: encrypted video and thumbnail, facts, signed manifest."""

    export_id: str
    clip: ExportClip
    video: EncryptedFile
    thumbnail: EncryptedFile | None
    video_facts: MediaFacts
    thumbnail_facts: MediaFacts | None
    manifest: dict[str, Any]


class Delivery(Protocol):
    """Sends a package to its recipients; returns where it went (e.g. a Matrix event id)."""

    recipient: str

    async def deliver(self, package: ExportPackage, message: str) -> str:
        """Send the package with the person's message."""
        ...


@dataclass(frozen=True)
class ExportResult:
    """What was sent and where."""

    export_id: str
    reference: str
    manifest: dict[str, Any]


class Exporter:
    """The one path by which footage leaves the hub."""

    def __init__(
        self,
        identity: IdentityKey,
        audit: AuditLog,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Sign with `identity`, log to `audit`, redact with `redactor`."""
        self._identity = identity
        self._audit = audit
        self._redactor: Redactor = redactor or NoRedaction()
        self._clock = clock
        self._used_grants: set[str] = set()

    async def export(
        self,
        grant: Grant,
        clip: ExportClip,
        delivery: Delivery,
        message: str,
        retention_days: int,
    ) -> ExportResult:
        """Share `clip` through `delivery` under `grant`; the recipient may keep it
        `retention_days`."""
        if grant.item_id != clip.clip_id:
            raise ExportRefused("the grant is for another item")
        if grant.grant_id in self._used_grants:
            raise ExportRefused("this grant was used already; sharing again needs a new action")
        self._used_grants.add(grant.grant_id)
        export_id = secrets.token_hex(8)
        subject = f"clip:{clip.clip_id}"
        await self._audit.append(
            "export.granted",
            grant.actor,
            subject,
            {"grant_id": grant.grant_id, "purpose": grant.purpose, "export_id": export_id},
        )
        try:
            with tempfile.TemporaryDirectory(prefix="doorward-export-") as workdir:
                redacted = await self._redactor.redact(clip, Path(workdir))
                package = await asyncio.to_thread(
                    functools.partial(
                        self._package,
                        export_id,
                        grant=grant,
                        clip=clip,
                        redacted=redacted,
                        recipient=delivery.recipient,
                        retention_days=retention_days,
                    )
                )
            reference = await delivery.deliver(package, message)
        except Exception as err:
            await self._audit.append(
                "export.failed", grant.actor, subject, {"export_id": export_id, "error": str(err)}
            )
            raise
        await self._audit.append(
            "export.delivered",
            grant.actor,
            subject,
            {
                "export_id": export_id,
                "recipient": delivery.recipient,
                "reference": reference,
                "sha256_shared": package.video.plaintext_sha256,
                "redactions": list(redacted.applied),
                "signature": package.manifest["signatures"],
            },
        )
        return ExportResult(export_id, reference, package.manifest)

    def _package(
        self,
        export_id: str,
        *,
        grant: Grant,
        clip: ExportClip,
        redacted: Redacted,
        recipient: str,
        retention_days: int,
    ) -> ExportPackage:
        """Hash, probe, sign and encrypt (blocking: runs in a thread)."""
        original = sha256_file(clip.video)
        video = encrypt_file(redacted.video, "video/mp4")
        thumbnail = encrypt_file(redacted.thumbnail, "image/jpeg") if redacted.thumbnail else None
        created = int(self._clock() * 1000)
        manifest = signed_manifest(
            identity=self._identity,
            export_id=export_id,
            purpose=grant.purpose,
            recipient=recipient,
            items=[
                ManifestItem(
                    name=VIDEO_NAME,
                    size=video.plaintext_size,
                    sha256_original=original,
                    sha256_shared=video.plaintext_sha256,
                    redactions=tuple(redacted.applied),
                    device_start_ms=clip.start_ms,
                    device_end_ms=clip.end_ms,
                    clock_source=clip.clock_source,
                )
            ],
            created_ms=created,
            expires_ms=created + retention_days * 86_400_000,
        )
        return ExportPackage(
            export_id=export_id,
            clip=clip,
            video=video,
            thumbnail=thumbnail,
            video_facts=media_facts(redacted.video),
            thumbnail_facts=media_facts(redacted.thumbnail) if redacted.thumbnail else None,
            manifest=manifest,
        )
