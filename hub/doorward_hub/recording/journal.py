"""A clip's journal: `<name>.json` beside `<name>.mp4`, written when the clip's first frame is
on disk and removed once the clip is indexed. After a crash it says whose clip a left-over file
is and why it was recorded, so the file can be recovered and indexed instead of deleted."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from doorward_hub.core.files import write_atomically
from doorward_hub.models import Clip, ClipTrigger

SUFFIX = ".json"


def journal_path(clip_path: Path) -> Path:
    """The journal of the clip file at `clip_path`."""
    return clip_path.with_suffix(SUFFIX)


@dataclass(frozen=True, slots=True)
class ClipJournal:
    """What is known of a clip from its first frame on: all but its end, size and digest."""

    doorbell_id: str
    trigger: str
    trigger_seq: int | None
    trigger_time: float
    start: float

    def write(self, clip_path: Path) -> None:
        """Store it durably beside `clip_path` (blocking)."""
        write_atomically(journal_path(clip_path), json.dumps(asdict(self)).encode())

    @classmethod
    def read(cls, path: Path) -> ClipJournal | None:
        """The journal at `path`; None if it is unreadable or not one (blocking)."""
        try:
            raw: Any = json.loads(path.read_bytes())
            journal = cls(
                doorbell_id=str(raw["doorbell_id"]),
                trigger=ClipTrigger(raw["trigger"]).value,
                trigger_seq=None if raw["trigger_seq"] is None else int(raw["trigger_seq"]),
                trigger_time=float(raw["trigger_time"]),
                start=float(raw["start"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return journal

    def clip(
        self, file_name: str, *, duration: float, size: int, sha256: str, has_audio: bool
    ) -> Clip:
        """The clip it describes, with what only the finished file tells."""
        return Clip(
            id=0,
            doorbell_id=self.doorbell_id,
            trigger=ClipTrigger(self.trigger),
            trigger_seq=self.trigger_seq,
            trigger_time=self.trigger_time,
            start=self.start,
            end=self.start + duration,
            size=size,
            sha256=sha256,
            file_name=file_name,
            has_audio=has_audio,
        )
