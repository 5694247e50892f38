"""The recording library's clips as exports see them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from doorward_hub.exports.clip import ExportClip

if TYPE_CHECKING:
    from doorward_hub.models import Clip
    from doorward_hub.recording.library import ClipLibrary
    from doorward_hub.storage.clips import ClipRepository

PAGE: Final = 500
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
        return None if clip is None else await self._export_clip(clip)

    async def between(self, start_ms: int, end_ms: int) -> list[ExportClip]:
        """Every clip whose time overlaps [start_ms, end_ms], oldest first (police requests)."""
        found: list[Clip] = []
        before: int | None = None
        while True:
            page = await self._clips.list_clips(
                since=start_ms / 1000, until=end_ms / 1000, before_id=before, limit=PAGE
            )
            found.extend(page)
            if len(page) < PAGE:
                break
            before = page[-1].id
        found.sort(key=lambda clip: (clip.start, clip.id))
        return [await self._export_clip(clip) for clip in found]

    async def _export_clip(self, clip: Clip) -> ExportClip:
        return ExportClip(
            clip_id=str(clip.id),
            video=self._library.path(clip.file_name),
            thumbnail=await self._library.thumbnail(clip),
            start_ms=round(clip.start * 1000),
            end_ms=round(clip.end * 1000),
            clock_source=CLOCK_SOURCE,
            trigger=clip.trigger.value,
        )
