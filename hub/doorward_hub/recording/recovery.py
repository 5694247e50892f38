"""Recovering clips after a crash (blocking: run it off the event loop). A clip with a journal
but no index row is either finished (renamed into place) or cut off (its fragmented MP4 still
`.partial`): the first is indexed as it is, the second is cut back to its whole fragments, in
place, and kept as what was recorded up to the crash. Only files without one decodable frame
are deleted; thumbnails are made when first asked for, not here."""

from __future__ import annotations

import logging
from pathlib import Path

import av

from doorward_hub.core.files import PARTIAL_SUFFIX
from doorward_hub.models import Clip
from doorward_hub.recording.journal import ClipJournal, journal_path
from doorward_hub.recording.mp4 import Probed, keep_whole_fragments, keyframe, probe, seal
from doorward_hub.recording.writer import sync_folder

_LOGGER = logging.getLogger(__name__)


def recover_clip(target: Path) -> Clip | None:
    """The clip whose file is (or was being written as) `target`, its files in place and ready
    to index; None if nothing of it is usable (then `discard` its files)."""
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    journal = ClipJournal.read(journal_path(target))
    try:
        found = None if journal is None else _video(target, partial)
        if journal is None or found is None:
            return None
        video = partial if partial.exists() else target
        if keyframe(video, journal.trigger_time - journal.start) is None:
            return None  # not one decodable frame
        size, digest = seal(video)
        if video is partial:
            partial.replace(target)
            sync_folder(target.parent)
        return journal.clip(
            target.name,
            duration=found.duration,
            size=size,
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
        target.with_suffix(".jpg"),
        journal_path(target),
    ):
        path.unlink(missing_ok=True)


def _video(target: Path, partial: Path) -> Probed | None:
    """The finished `target`, else `partial` cut back to its whole fragments."""
    if target.exists():
        partial.unlink(missing_ok=True)
        return probe(target)
    if not partial.exists():
        return None
    keep_whole_fragments(partial)
    found = probe(partial)
    if found is not None:
        target.with_suffix(".jpg").unlink(missing_ok=True)  # may show a frame now cut off
    return found
