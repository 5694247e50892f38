"""The clip library: the clips folder, its index in the store, and retention.

A clip is `<name>.mp4`, plus its thumbnail `<name>.jpg` once one was asked for: made then (the
keyframe nearest the trigger, one frame decoded) and kept, as most clips are never looked at.
Files are written under a `.partial` name and renamed into place before the index row is added
(a thumbnail: after it); deletion removes the row first. A clip's journal `<name>.json` lives
from its first frame until its row is added. So after a crash the folder and the index disagree
only by clips with a journal, which `reconcile` recovers and indexes at start (see `recovery`),
and by leftovers, which it removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import shutil
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path

import av

from doorward_hub.config import RecordingConfig
from doorward_hub.core.files import PARTIAL_SUFFIX, private_folder, write_atomically
from doorward_hub.events.bus import EventBus
from doorward_hub.models import Clip
from doorward_hub.recording.journal import SUFFIX as JOURNAL_SUFFIX
from doorward_hub.recording.journal import journal_path
from doorward_hub.recording.mp4 import keyframe_jpeg
from doorward_hub.recording.recovery import discard, recover_clip
from doorward_hub.storage.clips import ClipRepository, Notice
from doorward_hub.wire import messages, objects

_LOGGER = logging.getLogger(__name__)


RETENTION_INTERVAL = 60.0
MIB = 1024 * 1024
DAY = 86400.0
_UNSAFE = re.compile(r"[^A-Za-z0-9-]")
SEEKABLE_COPY_SUFFIX = ".finishing"
"""Hubs that kept clips as a remuxed copy wrote it under this suffix; a crash could leave one
(footage outside retention's reach), so it is removed as a leftover."""


def clip_announcement(clip: Clip, seq: int) -> Notice:
    """The push message announcing a stored clip."""
    return messages.ClipMessage(objects.Clip.of(clip), seq).to_dict()


def removal_announcement(clip_id: int, seq: int) -> Notice:
    """The push message announcing a clip's removal."""
    return messages.ClipRemoved(clip_id, seq).to_dict()


def free_bytes(folder: Path) -> int:
    """How much room is left where `folder` lives (blocking)."""
    return shutil.disk_usage(folder).free


def _write_thumbnail(video: Path, thumbnail: Path, at: float) -> bool:
    """Write `thumbnail`, the JPEG of `video`'s keyframe nearest `at` seconds, unless it was
    written meanwhile; False if no frame decodes (blocking)."""
    if thumbnail.exists():
        return True
    picture = keyframe_jpeg(video, at)
    if picture is None:
        return False
    write_atomically(thumbnail, picture)
    return True


class ClipLibrary:
    """Stores, lists and deletes clips; enforces age, size and free-space limits."""

    def __init__(
        self,
        store: ClipRepository,
        folder: Path,
        config: RecordingConfig,
        bus: EventBus,
        retention_days: Callable[[str], float | None],
    ) -> None:
        """Use (and create) `folder`; `retention_days(doorbell_id)` overrides the default age."""
        self.folder = folder
        self._store = store
        self._config = config
        self._bus = bus
        self._retention_days = retention_days
        self._lock = asyncio.Lock()  # one retention pass or deletion at a time
        self._task: asyncio.Task[None] | None = None
        self.free_bytes: Callable[[Path], int] = free_bytes  # replaceable in tests
        self._held: Callable[[], Collection[str]] = frozenset
        self._thumbnails: dict[int, asyncio.Task[Path | None]] = {}  # being made, by clip id
        private_folder(folder)

    def path(self, file_name: str) -> Path:
        """Where a clip file (video or thumbnail) is."""
        return self.folder / file_name

    def new_file_name(self, doorbell_id: str, start: float) -> str:
        """A fresh, unique, sortable file name for a clip of `doorbell_id` starting at `start`."""
        stamp = datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%SZ")
        return f"{_UNSAFE.sub('_', doorbell_id)}_{stamp}_{secrets.token_hex(3)}.mp4"

    async def start(self) -> None:
        """Clean up after a crash, apply retention, and keep applying it every minute."""
        await self.reconcile()
        await self.enforce_retention()
        self._task = asyncio.create_task(self._keep_applying(), name="clip retention")

    async def stop(self) -> None:
        """Stop the periodic retention pass; let thumbnails being made finish."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*self._thumbnails.values(), return_exceptions=True)

    async def _keep_applying(self) -> None:
        while True:
            await asyncio.sleep(RETENTION_INTERVAL)
            try:
                await self.enforce_retention()
            except OSError:
                _LOGGER.exception("Retention pass failed")

    async def reconcile(self) -> None:
        """Make folder and index agree: recover and index clips the index lacks, drop rows
        without a video, then drop left-over files."""
        clips = await self._store.all_clips()
        names = await asyncio.to_thread(lambda: {p.name for p in self.folder.iterdir()})
        indexed_videos = {clip.file_name for clip in clips}
        for name in sorted(names):
            video = name.removesuffix(JOURNAL_SUFFIX) + ".mp4"
            if name.endswith(JOURNAL_SUFFIX) and video not in indexed_videos:
                await self._recover(self.path(video))
        clips = await self._store.all_clips()
        names = await asyncio.to_thread(lambda: {p.name for p in self.folder.iterdir()})
        missing = [clip for clip in clips if clip.file_name not in names]
        if missing:
            await self._remove_rows([clip.id for clip in missing])
            for clip in missing:
                _LOGGER.warning(
                    "Removed a clip whose file is missing",
                    extra={"clip_id": clip.id, "file": clip.file_name},
                )
        indexed = {clip.file_name for clip in clips} | {clip.thumbnail_name for clip in clips}
        stray = sorted(
            name
            for name in names
            if name.endswith((PARTIAL_SUFFIX, SEEKABLE_COPY_SUFFIX))
            or (name.endswith((".mp4", ".jpg", JOURNAL_SUFFIX)) and name not in indexed)
        )
        for name in stray:
            await asyncio.to_thread(self.path(name).unlink, missing_ok=True)
            _LOGGER.info("Removed a leftover clip file", extra={"file": name})
        for clip in missing:
            await asyncio.to_thread(self.path(clip.thumbnail_name).unlink, missing_ok=True)

    async def _recover(self, video: Path) -> None:
        clip = await asyncio.to_thread(recover_clip, video)
        if clip is None:
            await asyncio.to_thread(discard, video)
            _LOGGER.warning(
                "Removed a cut-off clip without a whole frame", extra={"file": video.name}
            )
            return
        _LOGGER.warning(
            "Recovered a clip cut off by a stop",
            extra={"file": video.name, "seconds": round(clip.end - clip.start, 2)},
        )
        await self._index(clip)

    async def add(self, clip: Clip) -> Clip:
        """Index a clip whose files are in place, announce it, and apply the size limits."""
        clip = await self._index(clip)
        await self.enforce_retention()
        return clip

    async def _index(self, clip: Clip) -> Clip:
        clip, _ = await self._store.add_clip(clip, clip_announcement, self._bus.publish)
        await asyncio.to_thread(journal_path(self.path(clip.file_name)).unlink, missing_ok=True)
        _LOGGER.info(
            "Recorded a clip",
            extra={
                "clip_id": clip.id,
                "doorbell_id": clip.doorbell_id,
                "trigger": clip.trigger.value,
                "seconds": round(clip.end - clip.start, 2),
                "bytes": clip.size,
            },
        )
        return clip

    async def thumbnail(self, clip: Clip) -> Path | None:
        """The clip's thumbnail, made now if it was never asked for (once, however many ask at
        the same time); None if no frame of the clip decodes."""
        making = self._thumbnails.get(clip.id)
        if making is None:
            path = self.path(clip.thumbnail_name)
            if await asyncio.to_thread(path.exists):
                return path
            making = self._thumbnails.get(clip.id)  # asked for while this looked
        if making is None:
            making = asyncio.create_task(self._make_thumbnail(clip), name="clip thumbnail")
            self._thumbnails[clip.id] = making
            making.add_done_callback(lambda _: self._thumbnails.pop(clip.id, None))
        # Shielded: one asker going away (a closed connection) does not stop it for the others.
        return await asyncio.shield(making)

    async def _make_thumbnail(self, clip: Clip) -> Path | None:
        path = self.path(clip.thumbnail_name)
        at = clip.trigger_time - clip.start
        try:
            made = await asyncio.to_thread(_write_thumbnail, self.path(clip.file_name), path, at)
        except (av.FFmpegError, OSError):  # the clip was deleted meanwhile, or the disk failed
            _LOGGER.warning("Could not make a clip's thumbnail", extra={"clip_id": clip.id})
            return None
        if not made:
            _LOGGER.warning("No frame of a clip decodes", extra={"clip_id": clip.id})
            return None
        # Deletion removes the row before the files: a clip deleted while its thumbnail was made
        # has no row by now, and the thumbnail written after its files were removed goes here.
        if await self._store.get_clip(clip.id) is None:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            return None
        return path

    async def delete(self, clip: Clip, reason: str) -> None:
        """Remove a clip: its index row first, then its files; logged and announced."""
        async with self._lock:
            await self._delete(clip, reason)

    async def _delete(self, clip: Clip, reason: str) -> None:
        await self._remove_rows([clip.id])
        for name in (clip.file_name, clip.thumbnail_name):
            await asyncio.to_thread(self.path(name).unlink, missing_ok=True)
        _LOGGER.info(
            "Deleted clip %s (%s)",
            clip.id,
            reason,
            extra={"clip_id": clip.id, "doorbell_id": clip.doorbell_id, "reason": reason},
        )

    async def _remove_rows(self, clip_ids: list[int]) -> None:
        await self._store.delete_clips(clip_ids, removal_announcement, self._bus.publish)

    def hold_while(self, held: Callable[[], Collection[str]]) -> None:
        """Never delete the clips whose ids `held()` names (those matching a pending police
        request: the household must be able to answer with them)."""
        self._held = held

    async def enforce_retention(self) -> list[Clip]:
        """Delete clips past their doorbell's age limit, then the oldest ones while the total
        size is over `max_total_mb` or free space is under `min_free_mb`; held clips stay.
        Returns the deleted."""
        async with self._lock:
            held = set(self._held())
            clips = [clip for clip in await self._store.all_clips() if str(clip.id) not in held]
            now = time.time()
            deleted: list[Clip] = []
            kept: list[Clip] = []
            for clip in clips:
                days = self._retention_days(clip.doorbell_id) or self._config.retention_days
                if clip.end < now - days * DAY:
                    await self._delete(clip, f"older than {days:g} days")
                    deleted.append(clip)
                else:
                    kept.append(clip)
            quota = self._config.max_total_mb
            total = sum(clip.size for clip in kept)
            while kept and quota is not None and total > quota * MIB:
                clip = kept.pop(0)
                total -= clip.size
                await self._delete(clip, f"clips exceed {quota} MB")
                deleted.append(clip)
            floor = self._config.min_free_mb * MIB
            while kept and await asyncio.to_thread(self.free_bytes, self.folder) < floor:
                clip = kept.pop(0)
                await self._delete(clip, f"less than {self._config.min_free_mb} MB free")
                deleted.append(clip)
            return deleted
