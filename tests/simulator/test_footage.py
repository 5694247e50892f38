"""Pre-encoded footage: made once at a real size and bitrate, cached, replayed without encoding."""

from __future__ import annotations

import asyncio
import io
import itertools
import secrets
from pathlib import Path

import aiohttp
import av
import pytest

from doorward_simulator import SimulatedDoorbell
from doorward_simulator.footage import Footage, FootageSpec
from doorward_simulator.video import PTS_CLOCK

from .conftest import LOOPBACK, ffprobe, pair
from .test_video import _record

SPEC = FootageSpec(320, 240, fps=15, bitrate=600_000)


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Footage:
    """Footage encoded once for these tests into their own cache folder."""
    return Footage.load(SPEC, tmp_path_factory.mktemp("footage"))


def test_footage_is_cached_h264_at_its_bitrate(footage: Footage) -> None:
    assert footage.path.name == SPEC.file_name
    frames = round(10 * SPEC.fps)
    assert len(footage.frames) == frames
    keyframes = [n for n, frame in enumerate(footage.frames) if frame.keyframe]
    assert keyframes == list(range(0, frames, SPEC.fps))  # one IDR frame a second
    # The noise makes the encoder spend what it was asked for (within its rate control's slack).
    assert 0.8 * SPEC.bitrate <= footage.bitrate <= 1.2 * SPEC.bitrate
    again = Footage.load(SPEC, footage.path.parent)  # from the cache: the same frames
    assert [f.data for f in again.frames] == [f.data for f in footage.frames]


def test_bad_specs_are_refused() -> None:
    for kwargs in ({"width": 321, "height": 240}, {"width": 320, "height": 240, "fps": 0}):
        with pytest.raises(ValueError, match="footage"):
            FootageSpec(**kwargs)


async def test_replayed_stream_is_the_footage_with_live_timestamps(
    footage: Footage, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    bell = SimulatedDoorbell(
        f"sim-test-{secrets.token_hex(4)}", "Replay", LOOPBACK, interfaces=[LOOPBACK],
        footage=footage,
    )  # fmt: skip
    await bell.start()
    try:
        token = await pair(session, bell)
        _, data = await _record(session, bell, token, 2.5)
    finally:
        await bell.stop()
    assert not bell.video.encoding
    path = tmp_path / "replay.ts"
    path.write_bytes(data)
    probe = await ffprobe(str(path), "stream=codec_name,width,height")
    assert probe["streams"][0] == {"codec_name": "h264", "width": 320, "height": 240}

    def decode() -> list[int]:
        with av.open(io.BytesIO(data), "r", format="mpegts") as container:
            return [frame.pts for frame in container.decode(video=0) if frame.pts is not None]

    timestamps = await asyncio.to_thread(decode)
    # From the next keyframe on (up to 1 s after joining): every frame decodable, none skipped.
    assert len(timestamps) >= SPEC.fps
    steps = {b - a for a, b in itertools.pairwise(timestamps)}
    assert steps == {PTS_CLOCK // SPEC.fps}  # paced at the footage's rate, no gap
