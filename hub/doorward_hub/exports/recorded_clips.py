"""The recording library's clips as exports see them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from doorward_hub.exports.clip import ExportClip

if TYPE_CHECKING:
    from doorward_hub.recording.library import ClipLibrary
    from doorward_hub.storage.clips import ClipRepository

CLOCK_SOURCE: Final = "doorbell_or_hub"
"""The library keeps a clip's times on the doorbell's clock when its stream maps timestamps to
it, else on the hub's; it does not record which, so the manifest says both are possible."""


class RecordedClips:
    """Looks a clip up by its API id for an export."""

    def __init__(self, clips: ClipRepository, library: ClipLibrary) -> None:
        """Read the index from `clips`, the files from `library`."""
        self._clips = clips
        self._library = library

    async def __call__(self, clip_id: str) -> ExportClip | None:
        """The clip with id `clip_id` (ASCII digits), or None."""
        if not (clip_id.isascii() and clip_id.isdigit()):
            return None
        clip = await self._clips.get_clip(int(clip_id))
        if clip is None:
            return None
        thumbnail = self._library.path(clip.thumbnail_name)
        has_thumbnail = await asyncio.to_thread(thumbnail.exists)
        return ExportClip(
            clip_id=str(clip.id),
            video=self._library.path(clip.file_name),
            thumbnail=thumbnail if has_thumbnail else None,
            start_ms=round(clip.start * 1000),
            end_ms=round(clip.end * 1000),
            clock_source=CLOCK_SOURCE,
            trigger=clip.trigger.value,
        )
