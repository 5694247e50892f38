"""What an export needs to know about a recorded clip (from the recording library)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExportClip:
    """A clip offered for export: its files and when the device recorded it."""

    clip_id: str
    video: Path
    thumbnail: Path | None
    start_ms: int
    end_ms: int
    clock_source: str
    """`device` when the doorbell's stream gave its clock, `hub` otherwise."""
    trigger: str
    """What started the recording: `ring`, `motion`, `manual`."""

    @property
    def duration_ms(self) -> int:
        """How long the clip is."""
        return max(0, self.end_ms - self.start_ms)
