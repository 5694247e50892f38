"""The clip library across hub restarts: what start-up cleans up, and that stopping stops it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from doorward_hub.app import Hub
from doorward_hub.config import RecordingConfig
from doorward_hub.core.files import write_atomically
from doorward_hub.recording import library as library_module

from .conftest import hub_config
from .test_recording import add_clip


async def test_start_up_drops_rows_without_a_video_and_leftover_files(tmp_path: Path) -> None:
    """After a crash the folder and the index may disagree: a row whose video is gone is
    dropped (with its thumbnail), partial and unindexed clip files go, everything else stays."""
    config = hub_config(tmp_path / "hub", recording=RecordingConfig(retention_days=30))
    hub = Hub(config)
    await hub.start()
    library, store = hub.recorder.library, hub.repositories.clips
    try:
        kept = await add_clip(library, store, "front", 1, 10)
        lost = await add_clip(library, store, "front", 2, 10)
        gone = await add_clip(library, store, "front", 3, 10)
    finally:
        await hub.stop()
    library.path(lost.file_name).unlink()  # the video vanished; its row and thumbnail remain
    library.path(gone.file_name).unlink()  # both files vanished; the row remains
    library.path(gone.thumbnail_name).unlink()
    leftovers = ["front_19700101T000000Z_abcdef.mp4", "front_x.jpg", "front_y.mp4.partial"]
    for name in leftovers:
        write_atomically(library.path(name), b"\0")
    write_atomically(library.path("README.txt"), b"not a clip")

    hub = Hub(config)
    await hub.start()
    try:
        assert [c.id for c in await hub.repositories.clips.all_clips()] == [kept.id]
        files = sorted(p.name for p in hub.recorder.library.folder.iterdir())
        assert files == sorted(["README.txt", kept.file_name, kept.thumbnail_name])
    finally:
        await hub.stop()


async def test_stopping_the_hub_stops_its_retention_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No task of the hub outlives `stop`, and none of them failed (a retention pass left
    running would fail on the closed store)."""
    monkeypatch.setattr(library_module, "RETENTION_INTERVAL", 0.05)
    before = asyncio.all_tasks()
    hub = Hub(hub_config(tmp_path / "hub"))
    await hub.start()
    await asyncio.sleep(0.2)  # a few passes ran
    running = asyncio.all_tasks() - before
    await hub.stop()
    await asyncio.sleep(0.2)  # what was left running would run a pass now
    left = [task.get_name() for task in running if not task.done()]
    assert left == []
    failed = [t.get_name() for t in running if not t.cancelled() and t.exception() is not None]
    assert failed == []


MEBIBYTE = 1_048_576  # written out: the code's own constant would move with a bug in it


async def test_size_limits_count_in_mebibytes(tmp_path: Path) -> None:
    """`max_total_mb: 1` allows exactly 1048576 bytes of clips; `min_free_mb: 1` wants exactly
    1048576 bytes free."""
    config = RecordingConfig(retention_days=30, max_total_mb=1, min_free_mb=1)
    hub = Hub(hub_config(tmp_path / "hub", recording=config))
    await hub.start()
    try:
        library, store = hub.recorder.library, hub.repositories.clips
        disk = [2 * MEBIBYTE]  # the disk's size: free is what the clip videos leave of it

        def free(folder: Path) -> int:
            return disk[0] - sum(p.stat().st_size for p in folder.glob("*.mp4"))

        library.free_bytes = free
        older = await add_clip(library, store, "front", 2, MEBIBYTE // 2)
        newer = await add_clip(library, store, "front", 1, MEBIBYTE // 2)
        assert await library.enforce_retention() == [], "exactly at both limits"
        disk[0] -= 1  # one byte short of 1048576 free: the oldest goes, which makes room
        assert [c.id for c in await library.enforce_retention()] == [older.id]
        disk[0] = 4 * MEBIBYTE
        newest = await add_clip(library, store, "front", 0, MEBIBYTE // 2 + 1)
        # 1048577 bytes of clips: one byte over the quota, the oldest goes.
        assert [c.id for c in await library.enforce_retention()] == [newer.id]
        assert [c.id for c in await store.all_clips()] == [newest.id]
    finally:
        await hub.stop()
