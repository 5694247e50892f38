"""Clip thumbnails (issue 13): the keyframe nearest the trigger, decoded alone, made when a clip's
thumbnail is first asked for and kept; never for clips nobody looks at."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import av
import pytest

from doorward_hub.app import Hub
from doorward_hub.models import Clip, ClipTrigger
from doorward_hub.recording import library as library_module
from doorward_hub.recording import mp4
from doorward_hub.recording.mp4 import keyframe_jpeg
from doorward_hub.recording.writer import BufferedPacket, ClipRequest, ClipWriter

from .conftest import LOOPBACK, hub_config, pair_client

TRIGGER = 2.3
"""Seconds into the test clip; its keyframes are at 0, 1, 2 and 3 s."""


def write_clip(folder: Path, target: Path, start: float) -> Clip:
    """Record a 4 s clip (320x240, a keyframe a second) into `target` as the recorder does, with
    its trigger `TRIGGER` s after its start (blocking)."""
    source = folder / "source.ts"
    if not source.exists():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
             "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-f", "mpegts",
             str(source)],
            check=True, timeout=60,
        )  # fmt: skip
    request = ClipRequest(
        ClipTrigger.MANUAL, None, trigger_time=start + TRIGGER, start=start, end=start + 4
    )
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        writer = ClipWriter("door", request, target, video=video, audio=None, transcode=False)
        origin: int | None = None
        for packet in container.demux(video):
            if packet.dts is None or packet.pts is None or packet.time_base is None:
                continue
            origin = packet.pts if origin is None else origin
            when = start + float((packet.pts - origin) * packet.time_base)
            writer.add(
                BufferedPacket(
                    packet, when, packet.pts, packet.dts, packet.time_base, True,
                    packet.is_keyframe,
                )
            )  # fmt: skip
    clip = writer.finish()
    assert clip is not None
    return clip


def decoded_pictures(path: Path) -> dict[float, bytes]:
    """Every frame of the clip at `path` as a thumbnail JPEG, by its time (a full decode)."""
    with av.open(str(path)) as container:
        return {round(frame.time, 1): mp4.jpeg(frame) for frame in container.decode(video=0)}


def test_a_thumbnail_is_the_keyframe_nearest_the_trigger(tmp_path: Path) -> None:
    """The keyframe nearest the trigger decodes alone: one frame per clip, where the frame
    nearest the trigger cost decoding from the keyframe before it (up to a GOP, issue 13).
    Keyframes every second: at 2.3 s the thumbnail is the picture at 2 s, at 2.7 s the one at
    3 s (the nearer keyframe after), half-way the one before; the pictures are compared with
    the frames a full decode of the clip gives."""
    target = tmp_path / "clip.mp4"
    write_clip(tmp_path, target, 0.0)
    assert not target.with_suffix(".jpg").exists(), "finishing a clip makes no thumbnail"
    decoded = decoded_pictures(target)
    assert sorted(decoded)[:3] == pytest.approx([0.0, 0.1, 0.2])
    assert keyframe_jpeg(target, TRIGGER) == decoded[2.0]
    assert decoded[2.0] != decoded[2.3], "the frames differ: the test can tell"
    assert keyframe_jpeg(target, 2.7) == decoded[3.0]
    assert keyframe_jpeg(target, 2.5) == decoded[2.0]
    assert keyframe_jpeg(target, 0.0) == decoded[0.0]
    assert keyframe_jpeg(target, 60.0) == decoded[3.0], "past the end: the last keyframe"


def test_a_file_without_a_decodable_frame_has_no_thumbnail(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    write_clip(tmp_path, target, 0.0)
    data = bytearray(target.read_bytes())
    moov_end = data.find(b"mdat") + 4
    data[moov_end:] = bytes(len(data) - moov_end)  # every frame zeroed, the index intact
    target.write_bytes(data)
    assert keyframe_jpeg(target, TRIGGER) is None


class Clips:
    """A running hub with indexed clips, and a paired client of its API."""

    def __init__(self, hub: Hub, http: aiohttp.ClientSession, token: str, folder: Path) -> None:
        self.hub, self.http, self.folder = hub, http, folder
        self.library = hub.recorder.library
        self.base = f"http://{LOOPBACK}:{hub.port}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def add(self) -> Clip:
        """A real recorded clip, indexed as the recorder indexes it."""
        start = 1_800_000_000.0
        target = self.library.path(self.library.new_file_name("door", start))
        clip = await asyncio.to_thread(write_clip, self.folder, target, start)
        return await self.library.add(clip)

    async def thumbnail(self, clip: Clip) -> tuple[int, bytes]:
        async with self.http.get(
            f"{self.base}/clips/{clip.id}/thumbnail", headers=self.headers
        ) as response:
            return response.status, await response.read()


@pytest.fixture
async def clips(tmp_path: Path, http: aiohttp.ClientSession) -> AsyncIterator[Clips]:
    hub = Hub(hub_config(tmp_path / "hub"))
    await hub.start()
    try:
        token = await pair_client(
            http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code()
        )
        yield Clips(hub, http, token, tmp_path)
    finally:
        await hub.stop()


async def test_a_thumbnail_is_made_when_first_asked_for_and_kept(
    clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No clip has a thumbnail until one is asked for; two requests at once make it once and
    get the same JPEG (the keyframe nearest the trigger); it is the owner's alone and kept."""
    made: list[float] = []

    def counted(video: Path, at: float) -> bytes | None:
        made.append(at)
        return keyframe_jpeg(video, at)

    monkeypatch.setattr(library_module, "keyframe_jpeg", counted)
    clip, other = await clips.add(), await clips.add()
    thumbnail = clips.library.path(clip.thumbnail_name)
    assert not thumbnail.exists()

    first, second = await asyncio.gather(clips.thumbnail(clip), clips.thumbnail(clip))
    assert first == second
    assert first[0] == 200
    assert first[1] == decoded_pictures(clips.library.path(clip.file_name))[2.0]
    assert made == [pytest.approx(TRIGGER)], "made once"
    assert thumbnail.read_bytes() == first[1]
    assert thumbnail.stat().st_mode & 0o777 == 0o600
    assert await clips.thumbnail(clip) == first
    assert len(made) == 1, "kept, not made again"
    assert not clips.library.path(other.thumbnail_name).exists(), "never asked for: none"

    await clips.library.delete(clip, "test")
    assert not thumbnail.exists(), "deleting a clip deletes the thumbnail made for it"
    assert (await clips.thumbnail(clip))[0] == 404


async def test_a_clip_deleted_while_its_thumbnail_is_made_leaves_none(
    clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = await clips.add()
    decoding, go_on = threading.Event(), threading.Event()

    def slow(video: Path, at: float) -> bytes | None:
        picture = keyframe_jpeg(video, at)
        decoding.set()
        assert go_on.wait(10)
        return picture

    monkeypatch.setattr(library_module, "keyframe_jpeg", slow)
    making = asyncio.create_task(clips.library.thumbnail(clip))
    assert await asyncio.to_thread(decoding.wait, 10)
    await clips.library.delete(clip, "test")  # row and files removed: no thumbnail yet
    go_on.set()
    assert await making is None
    assert sorted(p.name for p in clips.library.folder.iterdir()) == [], "no orphan thumbnail"


async def test_a_clip_without_a_decodable_frame_has_no_thumbnail(clips: Clips) -> None:
    clip = await clips.add()
    video = clips.library.path(clip.file_name)
    data = bytearray(video.read_bytes())
    media = data.find(b"mdat") + 4
    data[media:] = bytes(len(data) - media)
    video.write_bytes(data)
    status, body = await clips.thumbnail(clip)
    assert status == 404
    assert b"no_thumbnail" in body
    assert not clips.library.path(clip.thumbnail_name).exists()
