"""Recovering clips after a crash (blocking: run it off the event loop). A clip with a journal
but no index row is either finished (renamed into place) or cut off (its fragmented MP4 still
`.partial`): the first is indexed as it is, the second is remuxed into a normal, seekable MP4 of
what was recorded up to the crash. Only files without one decodable frame are deleted."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import av

from doorward_hub.core.files import PARTIAL_SUFFIX, write_atomically
from doorward_hub.models import Clip
from doorward_hub.recording.journal import ClipJournal, journal_path
from doorward_hub.recording.mp4 import Remuxed, frame_jpeg, probe, remux_faststart
from doorward_hub.recording.writer import FINISHING_SUFFIX, sync_folder

_LOGGER = logging.getLogger(__name__)


def recover_clip(target: Path) -> Clip | None:
    """The clip whose file is (or was being written as) `target`, its files in place and ready
    to index; None if nothing of it is usable (then `discard` its files)."""
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    finishing = target.with_name(target.name + FINISHING_SUFFIX)
    thumbnail = target.with_suffix(".jpg")
    journal = ClipJournal.read(journal_path(target))
    finishing.unlink(missing_ok=True)
    try:
        found = None if journal is None else _video(target, partial, finishing)
        if journal is None or found is None:
            return None
        video = finishing if finishing.exists() else target
        picture = frame_jpeg(video, journal.trigger_time - journal.start)
        if picture is None:
            return None  # not one decodable frame
        if not thumbnail.exists():
            write_atomically(thumbnail, picture)
        if finishing.exists():
            finishing.replace(target)
            sync_folder(target.parent)
            partial.unlink()
        with target.open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
        return journal.clip(
            target.name,
            duration=found.duration,
            size=target.stat().st_size,
            sha256=digest,
            has_audio=found.has_audio,
        )
    except av.FFmpegError:
        return None  # not even the first fragment is whole
    except (OSError, ValueError):
        _LOGGER.exception("Could not recover a clip", extra={"file": target.name})
        return None


def discard(target: Path) -> None:
    """Remove every file of the clip at `target` (blocking)."""
    for path in (
        target,
        target.with_name(target.name + PARTIAL_SUFFIX),
        target.with_name(target.name + FINISHING_SUFFIX),
        target.with_suffix(".jpg"),
        journal_path(target),
    ):
        path.unlink(missing_ok=True)


def _video(target: Path, partial: Path, finishing: Path) -> Remuxed | None:
    """The finished `target`, else the seekable copy of `partial` written to `finishing`."""
    if target.exists():
        partial.unlink(missing_ok=True)
        return probe(target)
    if not partial.exists():
        return None
    found = remux_faststart(partial, finishing)
    if found is not None:
        target.with_suffix(".jpg").unlink(missing_ok=True)  # may show a frame now missing
    return found
