"""Where redaction plugs into exports: privacy masks and bystander hiding (their own issue).

Until a redactor exists, exports use `NoRedaction`, which shares the clip unchanged and says so:
the manifest's `redactions` list stays empty, so a recipient sees that nothing was hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .clip import ExportClip


@dataclass(frozen=True)
class Redacted:
    """The files to share after redaction and what was done to them."""

    video: Path
    thumbnail: Path | None
    applied: tuple[str, ...]


class Redactor(Protocol):
    """Turns a clip into the copy that may leave the hub."""

    async def redact(self, clip: ExportClip, workdir: Path) -> Redacted:
        """Write the redacted copy (and its thumbnail) under `workdir` or reuse the originals."""
        ...


class NoRedaction:
    """Shares the clip as recorded; records that no redaction was applied."""

    async def redact(self, clip: ExportClip, workdir: Path) -> Redacted:
        """The original files, nothing applied."""
        del workdir
        return Redacted(clip.video, clip.thumbnail, ())
