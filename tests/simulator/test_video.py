"""The live video: H.264 in MPEG-TS with device-clock PTS, lazy encoding, the clock picture."""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from fractions import Fraction
from pathlib import Path

import aiohttp
import av

from doorward_simulator import SimulatedDoorbell
from doorward_simulator.video import PTS_CLOCK, Box, Picture

from .conftest import API, bearer, ffprobe, pair

SECONDS = 2.5


async def _record(
    session: aiohttp.ClientSession, doorbell: SimulatedDoorbell, token: str, seconds: float
) -> tuple[float, bytes]:
    """Read the video stream for `seconds`; returns the epoch header and the bytes."""
    data = bytearray()
    async with session.get(f"{doorbell.url}{API}/video", headers=bearer(token)) as response:
        assert response.status == 200
        assert response.content_type == "video/mp2t"
        epoch = float(response.headers["X-Doorward-Epoch"])
        deadline = asyncio.get_running_loop().time() + seconds
        async for chunk in response.content.iter_any():
            data += chunk
            if asyncio.get_running_loop().time() > deadline:
                break
    return epoch, bytes(data)


def _encoding(doorbell: SimulatedDoorbell) -> bool:
    return doorbell.video.encoding


def _read_live(url: str, token: str, packets: int) -> tuple[str, list[int]]:
    """Open the stream URL with PyAV (blocking); returns the codec and the first packets' PTS."""
    options = {"headers": f"Authorization: Bearer {token}\r\n"}
    with av.open(url, options=options, timeout=10) as container:
        stream = container.streams.video[0]
        timestamps: list[int] = []
        for packet in container.demux(stream):
            if packet.pts is not None:
                timestamps.append(packet.pts)
            if len(timestamps) == packets:
                break
        return stream.codec_context.name, timestamps


def _decode(data: bytes) -> list[tuple[int, bytes, int]]:
    """Decode MPEG-TS bytes (blocking); returns (pts, Y plane, Y stride) per frame."""
    with av.open(io.BytesIO(data), "r", format="mpegts") as container:
        stream = container.streams.video[0]
        assert stream.time_base == Fraction(1, PTS_CLOCK)
        frames = []
        for frame in container.decode(stream):
            assert frame.pts is not None
            luma = frame.planes[0]
            frames.append((frame.pts, bytes(luma), luma.line_size))
        return frames


def _mismatch(actual: bytes, actual_stride: int, expected: bytes, stride: int, box: Box) -> float:
    """Share of the pixels in `box` that are bright in one picture and dark in the other."""
    x, y, width, height = box
    wrong = 0
    for row in range(y, y + height):
        got = actual[row * actual_stride + x : row * actual_stride + x + width]
        want = expected[row * stride + x : row * stride + x + width]
        wrong += sum((a > 128) != (b > 128) for a, b in zip(got, want, strict=True))
    return wrong / (width * height)


def _clock_mismatch(picture: Picture, luma: bytes, stride: int, device_time: float) -> float:
    """The worst share of wrong pixels over the clock's characters for `device_time`."""
    expected = bytes(picture.luma(device_time))
    return max(
        _mismatch(luma, stride, expected, picture.luma_stride, cell) for cell in picture.clock_cells
    )


async def test_video_is_h264_with_the_device_clock_in_the_picture(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    token = await pair(session, doorbell)
    before = time.time()
    # Two viewers at once: PyAV reading the URL itself, and a plain HTTP client.
    live = asyncio.to_thread(_read_live, f"{doorbell.url}{API}/video", token, 15)
    (codec, timestamps), (epoch, data) = await asyncio.gather(
        live, _record(session, doorbell, token, SECONDS)
    )
    assert codec == "h264"
    assert len(timestamps) == 15
    assert all(a < b for a, b in itertools.pairwise(timestamps))
    assert before - 1 <= epoch <= time.time()

    path = tmp_path / "video.ts"
    await asyncio.to_thread(path.write_bytes, data)
    probe = await ffprobe(str(path), "stream=codec_name,profile,pix_fmt,width,height")
    assert probe["streams"] == [
        {
            "codec_name": "h264",
            "profile": "Constrained Baseline",
            "pix_fmt": "yuv420p",
            "width": 320,
            "height": 240,
        }
    ]
    packets = (await ffprobe(str(path), "packet=pts,flags"))["packets"]
    assert packets[0]["flags"].startswith("K")  # the stream starts at a keyframe
    keyframes = [p["pts"] for p in packets if p["flags"].startswith("K")]
    assert len(keyframes) >= 2
    assert all(b - a <= 2 * PTS_CLOCK for a, b in itertools.pairwise(keyframes))

    frames = await asyncio.to_thread(_decode, data)
    assert len(frames) >= 10
    pts = [p for p, _, _ in frames]
    assert all(a < b for a, b in itertools.pairwise(pts))
    for frame_pts, luma, stride in frames:
        device_time = epoch + frame_pts / PTS_CLOCK
        assert _clock_mismatch(doorbell.picture, luma, stride, device_time) < 0.02
        # A clock one second off differs in at least two units of a segment (8 and 9: 2/28).
        assert _clock_mismatch(doorbell.picture, luma, stride, device_time + 1) > 0.05
    assert frames[0][1] != frames[-1][1]  # the picture moves


async def test_a_doorbell_with_a_microphone_sends_an_aac_tone(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    bell = SimulatedDoorbell(
        "sim-mic", "Mic door", "127.0.0.1", interfaces=["127.0.0.1"], audio=True
    )
    await bell.start()
    try:
        token = await pair(session, bell)
        _, data = await _record(session, bell, token, SECONDS)
    finally:
        await bell.stop()
    path = tmp_path / "audio.ts"
    await asyncio.to_thread(path.write_bytes, data)
    probe = await ffprobe(str(path), "stream=codec_type,codec_name,sample_rate,channels")
    assert probe["streams"] == [
        {"codec_name": "h264", "codec_type": "video"},
        {"codec_name": "aac", "codec_type": "audio", "sample_rate": "48000", "channels": 1},
    ]

    def tone_level() -> tuple[float, float]:
        """Seconds of audio decoded and their RMS level (blocking)."""
        with av.open(str(path)) as container:
            samples: list[float] = []
            for frame in container.decode(audio=0):
                samples.extend(memoryview(bytes(frame.planes[0])).cast("f")[: frame.samples])
        return len(samples) / 48_000, (sum(x * x for x in samples) / len(samples)) ** 0.5

    seconds, rms = await asyncio.to_thread(tone_level)
    assert seconds >= SECONDS - 1.5
    assert 0.1 < rms < 0.2, "a 0.2 amplitude sine has an RMS of 0.14"


async def test_encoder_runs_only_while_watched(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    token = await pair(session, doorbell)
    assert not _encoding(doorbell)
    async with session.get(f"{doorbell.url}{API}/video", headers=bearer(token)) as response:
        await response.content.readexactly(188)
        assert _encoding(doorbell)
    for _ in range(200):
        if not _encoding(doorbell):
            break
        await asyncio.sleep(0.05)
    assert not _encoding(doorbell)
    # A new viewer gets a new encoder.
    epoch, data = await _record(session, doorbell, token, 0.5)
    assert data.startswith(b"G")  # an MPEG-TS sync byte
    assert epoch > 0


async def test_stop_ends_the_video_stream(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    token = await pair(session, doorbell)
    async with session.get(f"{doorbell.url}{API}/video", headers=bearer(token)) as response:
        await response.content.readexactly(188)
        await doorbell.stop()
        await response.content.read()  # returns: the stream ended
    assert not _encoding(doorbell)
