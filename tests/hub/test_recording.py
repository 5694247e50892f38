"""The recorder with a real hub and simulated doorbells: clips, API, retention, crash safety."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import itertools
import json
import logging
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from aiohttp import web
from playwright.async_api import async_playwright

from doorward_hub.app import Hub
from doorward_hub.config import ConfigError, RecordingConfig, validate
from doorward_hub.core.files import write_atomically
from doorward_hub.devices.drivers.base import VideoSource
from doorward_hub.events.bus import EventBus
from doorward_hub.models import Clip, ClipTrigger
from doorward_hub.recording import library as library_module
from doorward_hub.recording import mp4
from doorward_hub.recording.library import MIB, ClipLibrary, clip_announcement
from doorward_hub.recording.mp4 import keyframe_jpeg, thumbnail_size
from doorward_hub.recording.stream import DoorbellStream
from doorward_hub.storage.repositories import Repositories
from doorward_simulator.device import SimulatedDoorbell
from doorward_simulator.video import Picture

from .conftest import LOOPBACK, hub_config, pair_client, wait_for

PRE, POST = 2.0, 2.0
GOP = 1.0  # the simulator's keyframe interval

type DoorbellFactory = Callable[..., Awaitable[SimulatedDoorbell]]


@pytest.fixture
async def doorbells() -> AsyncIterator[DoorbellFactory]:
    """Simulated doorbells on 127.0.0.1; all stop at the end."""
    started: list[SimulatedDoorbell] = []

    async def start(device_id: str, *, audio: bool = False) -> SimulatedDoorbell:
        doorbell = SimulatedDoorbell(
            device_id, "Front door", LOOPBACK, 0, interfaces=[LOOPBACK], audio=audio
        )
        await doorbell.start()
        started.append(doorbell)
        return doorbell

    yield start
    for doorbell in started:
        await doorbell.stop()


class Session:
    """A hub with short pre/post-rolls and a paired client listening on the WebSocket."""

    def __init__(self, hub: Hub, http: aiohttp.ClientSession, token: str) -> None:
        self.hub, self.http = hub, http
        self.base = f"http://{LOOPBACK}:{hub.port}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(
            method, f"{self.base}/{path}", headers=self.headers, **kwargs
        ) as response:
            body = await response.read()
            if response.content_type == "application/json":
                return response.status, json.loads(body)
            return response.status, body

    async def get(self, path: str) -> Any:
        status, body = await self.call("GET", path)
        assert status == 200, body
        return body

    async def next_message(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while True:
                message: dict[str, Any] = await self.ws.receive_json()
                if message["type"] == kind:
                    return message

    async def buffering(self, doorbell_id: str, seconds: float) -> None:
        """Wait until the recorder holds `seconds` of pre-roll for the doorbell."""

        def ready() -> bool:
            stream = self.hub.recorder.streams.get(doorbell_id)
            return stream is not None and stream.buffered_seconds >= seconds

        await wait_for(ready, timeout=30)


type SessionFactory = Callable[..., Awaitable[Session]]


@pytest.fixture
async def session(tmp_path: Path, http: aiohttp.ClientSession) -> AsyncIterator[SessionFactory]:
    hubs: list[Hub] = []

    async def start(**recording: Any) -> Session:
        settings = {"pre_roll_seconds": PRE, "post_roll_seconds": POST, **recording}
        hub = Hub(hub_config(tmp_path / "hub", recording=RecordingConfig(**settings)))
        await hub.start()
        hubs.append(hub)
        token = await pair_client(
            http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code()
        )
        client = Session(hub, http, token)
        client.ws = await http.ws_connect(f"{client.base}/ws", headers=client.headers)
        return client

    yield start
    for hub in hubs:
        await hub.stop()


def ffprobe(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    probed: dict[str, Any] = json.loads(result.stdout)
    return probed


def keyframe_times(path: Path) -> list[float]:
    """The times of the MP4's video keyframes, in seconds."""
    with av.open(str(path)) as container:
        return [
            float(packet.pts * packet.time_base)
            for packet in container.demux(video=0)
            if packet.is_keyframe and packet.pts is not None and packet.time_base is not None
        ]


def picture_of(data: bytes) -> tuple[str, int, int]:
    """A picture's codec and size, as FFmpeg decodes it."""
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return container.streams.video[0].codec_context.name, frame.width, frame.height


def annex_b_sps(data: bytes) -> bytes:
    """The first H.264 SPS NAL unit in an Annex B byte stream."""
    start = data.index(b"\x00\x00\x01\x67") + 3
    end = data.index(b"\x00\x00\x01", start)
    return data[start:end].rstrip(b"\x00")


def avcc_sps(extradata: bytes) -> bytes:
    """The first SPS in an MP4 avcC record."""
    assert extradata[0] == 1
    assert extradata[5] & 0x1F >= 1
    length = int.from_bytes(extradata[6:8], "big")
    return extradata[8 : 8 + length]


def clock_error(path: Path, picture: Picture, device_time: float) -> float:
    """Seconds between `device_time` and the clock burned into the clip's first frame: the
    clock rendered afresh for candidate times around it is compared with the decoded one."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    plane = frame.planes[0]
    decoded = bytes(plane)
    x, y, width, height = picture.clock_box

    def distance(candidate: float) -> int:
        rendered = picture.luma(candidate)
        stride = picture.luma_stride
        total = 0
        for row in range(y, y + height):
            got = decoded[row * plane.line_size + x : row * plane.line_size + x + width]
            want = rendered[row * stride + x : row * stride + x + width]
            total += sum(abs(a - b) for a, b in zip(got, want, strict=True))
        return total

    candidates = [device_time + step / 10 for step in range(-20, 21)]
    best = min(candidates, key=distance)
    return best - device_time


async def test_a_press_records_pre_roll_event_and_post_roll_by_stream_copy(
    session: SessionFactory, doorbells: DoorbellFactory, http: aiohttp.ClientSession
) -> None:
    client = await session()
    door = await doorbells("sim-clip")
    await client.buffering("sim-clip", PRE)
    pressed_at = float((await door.press())["time"])
    folder = client.hub.recorder.library.folder
    recording = await wait_for(lambda: [*folder.glob("*.mp4.partial")], timeout=10)
    recorded_inode = recording[0].stat().st_ino
    clip = (await client.next_message("clip"))["clip"]

    assert clip["doorbell_id"] == "sim-clip"
    assert clip["trigger"] == "press"
    event = (await client.get("events?doorbell=sim-clip"))["events"][0]
    assert clip["trigger_seq"] == event["seq"]
    start, end = clip["start_device_time"], clip["end_device_time"]
    assert pressed_at - PRE - GOP - 0.2 <= start <= pressed_at - PRE
    assert end >= pressed_at + POST - 0.2
    assert PRE + POST - 0.2 <= end - start <= PRE + POST + GOP + 0.2

    path = client.hub.recorder.library.path(clip["file_name"])
    data = path.read_bytes()
    assert len(data) == clip["size"]
    assert hashlib.sha256(data).hexdigest() == clip["sha256"]
    # Written once: the fragmented MP4 recorded is the clip (the same file, renamed), its index
    # (`moov`) first, a fragment per GOP, and the keyframe index (`mfra`) for seeking last.
    assert path.stat().st_ino == recorded_inode, "the recording is kept, not copied"
    kinds = [kind for kind, _ in top_level_boxes(data)]
    assert kinds[:3] == [b"ftyp", b"moov", b"mdat"], kinds
    assert kinds[3:-1] == [b"moof", b"mdat"] * ((len(kinds) - 4) // 2), kinds
    assert kinds[-1] == b"mfra"
    # The clip's first frame shows the device clock of its recorded start time.
    assert abs(clock_error(path, door.picture, start)) < 0.05

    probed = ffprobe(path)
    (stream,) = probed["streams"]
    assert probed["format"]["format_name"].startswith("mov,mp4")
    assert abs(float(probed["format"]["duration"]) - (end - start)) <= 0.2
    # Stream copy: the parameters are the source's, down to the SPS bytes.
    source = client.hub.doorbells.video_source("sim-clip")
    async with http.get(source.url, headers=dict(source.headers)) as response:
        sample = await response.content.readexactly(188 * 200)
    live = path.with_name("live.ts")
    live.write_bytes(sample)
    (live_stream,) = ffprobe(live)["streams"]
    live.unlink()
    for key in ("codec_name", "profile", "level", "width", "height", "pix_fmt"):
        assert stream[key] == live_stream[key], key
    with av.open(str(path)) as container:
        extradata = container.streams.video[0].codec_context.extradata
    assert extradata is not None
    assert avcc_sps(extradata) == annex_b_sps(sample)

    # The API lists it, serves it with Range support, and its thumbnail.
    listed = await client.get("clips?doorbell=sim-clip")
    assert [c["id"] for c in listed["clips"]] == [clip["id"]]
    assert listed["more"] is False
    async with http.get(
        f"{client.base}/clips/{clip['id']}/video",
        headers={**client.headers, "Range": "bytes=100-199"},
    ) as response:
        assert response.status == 206
        assert await response.read() == data[100:200]
    status, body = await client.call("GET", f"clips/{clip['id']}/video")
    assert status == 200
    assert body == data
    # No thumbnail until one is asked for; then it is made, kept (owner-only) and served.
    thumbnail = path.with_suffix(".jpg")
    assert not thumbnail.exists(), "made for every clip: most are never looked at"
    status, served = await client.call("GET", f"clips/{clip['id']}/thumbnail")
    assert status == 200
    assert picture_of(served) == ("mjpeg", 320, 240)
    assert thumbnail.read_bytes() == served
    assert thumbnail.stat().st_mode & 0o777 == 0o600
    made = thumbnail.stat().st_mtime_ns
    assert await client.call("GET", f"clips/{clip['id']}/thumbnail") == (200, served)
    assert thumbnail.stat().st_mtime_ns == made, "kept, not made again"


PLAY_AND_SEEK = """async (src) => {
    const video = document.createElement("video");
    video.muted = true;
    document.body.append(video);
    const happened = (name) => new Promise((resolve, reject) => {
        video.addEventListener(name, resolve, {once: true});
        video.addEventListener("error", () => reject(video.error.message), {once: true});
    });
    const loaded = happened("loadedmetadata");
    video.src = src;
    await loaded;
    await video.play();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seeks = [];
    for (const to of [video.duration - 0.6, 0.5]) {
        const seeked = happened("seeked");
        video.currentTime = to;
        await seeked;
        seeks.push(video.currentTime);
    }
    return {duration: video.duration, seeks, ready: video.readyState, width: video.videoWidth};
}"""


async def test_chromium_plays_and_seeks_a_clip_as_the_hub_serves_it(
    session: SessionFactory, doorbells: DoorbellFactory
) -> None:
    """The clip is the fragmented MP4 as recorded: a browser plays it from the hub's Range-served
    endpoint, knows its duration at once and seeks both ways (Debian's Chromium)."""
    client = await session()
    door = await doorbells("sim-play")
    await client.buffering("sim-play", PRE)
    await door.press()
    clip = (await client.next_message("clip"))["clip"]
    origin = f"http://{LOOPBACK}:{client.hub.port}"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            context = await browser.new_context(extra_http_headers=client.headers)
            page = await context.new_page()
            await page.route(
                f"{origin}/play",
                lambda route: route.fulfill(content_type="text/html", body="<body></body>"),
            )
            await page.goto(f"{origin}/play")
            played = await page.evaluate(PLAY_AND_SEEK, f"{origin}/api/v1/clips/{clip['id']}/video")
        finally:
            await browser.close()
    assert abs(played["duration"] - clip["duration"]) < 0.3, (played, clip["duration"])
    end, start = played["seeks"]
    assert abs(end - (played["duration"] - 0.6)) < 0.1, played
    assert abs(start - 0.5) < 0.1, played
    assert played["ready"] >= 2, "a frame is there to show"  # HAVE_CURRENT_DATA
    assert played["width"] == door.picture.width


async def test_presses_during_a_clip_extend_it(
    session: SessionFactory, doorbells: DoorbellFactory
) -> None:
    client = await session(post_roll_seconds=4.0)
    door = await doorbells("sim-twice")
    await client.buffering("sim-twice", PRE)
    first = float((await door.press())["time"])
    await asyncio.sleep(3.0)
    second = float((await door.press())["time"])
    clip = (await client.next_message("clip"))["clip"]
    assert clip["start_device_time"] <= first - PRE
    assert clip["end_device_time"] >= second + 4.0 - 0.2
    events = (await client.get("events?doorbell=sim-twice"))["events"]
    assert len(events) == 2, "two presses, two events"
    assert clip["trigger_seq"] == events[0]["seq"]
    # Both presses were stored before the clip ended: no second clip can follow.
    assert len((await client.get("clips"))["clips"]) == 1


async def test_manual_recording_and_privacy_mode(
    session: SessionFactory, doorbells: DoorbellFactory
) -> None:
    client = await session()
    await doorbells("sim-manual")
    await client.buffering("sim-manual", 0.5)
    status, body = await client.call("POST", "doorbells/sim-manual/record", json={"duration": 1})
    assert status == 202, body
    clip = (await client.next_message("clip"))["clip"]
    assert clip["trigger"] == "manual"
    assert clip["trigger_seq"] is None
    assert (await client.get("clips?trigger=manual"))["clips"][0]["id"] == clip["id"]
    assert (await client.get("clips?trigger=press"))["clips"] == []

    status, body = await client.call("POST", "doorbells/sim-manual/record", json={"duration": 0})
    assert status == 400
    assert "duration" in body["message"]
    status, body = await client.call("POST", "doorbells/nobody/record", json={})
    assert status == 404
    assert body["error"] == "unknown_doorbell"

    # Privacy mode: the video stream is closed and nothing can be recorded.
    status, body = await client.call(
        "PATCH", "doorbells/sim-manual", json={"privacy_mode": True, "record_audio": True}
    )
    assert status == 200
    assert body["record_audio"] is True
    assert "sim-manual" not in client.hub.recorder.streams
    status, body = await client.call("POST", "doorbells/sim-manual/record", json={"duration": 1})
    assert status == 409
    assert "privacy" in body["message"]


async def test_privacy_mode_discards_the_clip_being_written_and_records_no_press(
    session: SessionFactory, doorbells: DoorbellFactory
) -> None:
    """Privacy mode means no recording: a clip in progress when it is switched on is thrown
    away (no file, no index row, no announcement), and presses while it is on make no clip."""
    client = await session(post_roll_seconds=6.0)
    door = await doorbells("sim-hush")
    await client.buffering("sim-hush", PRE)
    await door.press()
    await client.next_message("event")
    # The clip is being written (6 s of post-roll to come); past the press merge window, so
    # the next press is an event of its own.
    await asyncio.sleep(2.5)
    status, _ = await client.call("PATCH", "doorbells/sim-hush", json={"privacy_mode": True})
    assert status == 200
    await door.press()
    await client.next_message("event")  # the press is still an event, only not recorded
    with pytest.raises(TimeoutError):
        await client.next_message("clip", timeout=POST + 6.0)
    assert (await client.get("clips"))["clips"] == []
    library = client.hub.recorder.library
    assert sorted(p.name for p in library.folder.iterdir()) == []

    # Switched off again, the next press records: the silence above was privacy mode.
    status, _ = await client.call("PATCH", "doorbells/sim-hush", json={"privacy_mode": False})
    assert status == 200
    await client.buffering("sim-hush", PRE)
    await door.press()
    clip = (await client.next_message("clip"))["clip"]
    assert [c["id"] for c in (await client.get("clips"))["clips"]] == [clip["id"]]


async def test_a_clip_continues_across_a_dropped_stream(
    session: SessionFactory, doorbells: DoorbellFactory
) -> None:
    """The video connection drops mid-clip while the doorbell stays online: what was recorded
    is kept as a clip, and the rest of the requested time follows in a second clip of the same
    press from the next connection."""
    client = await session(post_roll_seconds=8.0)
    door = await doorbells("sim-hiccup")
    await client.buffering("sim-hiccup", PRE)
    pressed_at = float((await door.press())["time"])
    await asyncio.sleep(2.0)
    assert door.drop_video() == 1
    first = (await client.next_message("clip"))["clip"]
    second = (await client.next_message("clip"))["clip"]
    assert first["trigger_seq"] == second["trigger_seq"] is not None
    assert first["start_device_time"] <= pressed_at - PRE
    assert first["end_device_time"] < pressed_at + 8.0
    assert second["start_device_time"] >= first["end_device_time"] - 0.2
    assert second["end_device_time"] >= pressed_at + 8.0 - 0.2
    library = client.hub.recorder.library
    for clip in (first, second):
        (stream,) = ffprobe(library.path(clip["file_name"]))["streams"]
        assert stream["codec_name"] == "h264"
    assert len((await client.get("clips"))["clips"]) == 2


@contextlib.asynccontextmanager
async def video_source(
    tmp_path: Path,
    serve: Callable[[web.Request], Awaitable[web.StreamResponse]],
    config: RecordingConfig | None = None,
) -> AsyncIterator[tuple[str, ClipLibrary]]:
    """A server on loopback answering `GET /video` with `serve`, and a clip library under
    `tmp_path`: yields the video's URL and the library; both are closed at the end."""
    app = web.Application()
    app.router.add_get("/video", serve)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, LOOPBACK, 0).start()
    stored = await Repositories.open(tmp_path / "hub.db")
    library = ClipLibrary(
        stored.clips,
        tmp_path / "clips",
        config or RecordingConfig(),
        EventBus(stored.events, 2.0),
        lambda _: None,
    )
    try:
        yield f"http://{LOOPBACK}:{runner.addresses[0][1]}/video", library
    finally:
        await stored.close()
        await runner.cleanup()


async def test_a_stream_that_is_not_video_never_takes_the_hub_down(tmp_path: Path) -> None:
    """A source that sends garbage is retried with back-off; the recorder keeps running."""
    hits: list[int] = []

    async def garbage(request: web.Request) -> web.StreamResponse:
        hits.append(1)
        response = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
        await response.prepare(request)
        await response.write(b"\x00not a transport stream" * 5000)
        return response

    async with video_source(tmp_path, garbage) as (url, library):
        stream = DoorbellStream(
            "sim-garbage",
            VideoSource(url, "video/mp2t"),
            audio=False,
            config=RecordingConfig(),
            library=library,
            finished=lambda writer: None,
        )
        stream.start()
        try:
            await wait_for(lambda: len(hits) >= 2, timeout=20)
            assert stream.buffered_seconds == 0.0
            assert stream.trigger(ClipTrigger.MANUAL, None, None, 1.0) is None
        finally:
            await stream.stop()


async def test_every_doorbell_gets_a_reader_however_many_there_are(tmp_path: Path) -> None:
    """Each stream reads in a thread of its own: 70 doorbells are 70 connections at once (a
    pool of 64 threads left the rest waiting, recording nothing, without a word)."""
    count = 70
    connected: set[str] = set()
    release = asyncio.Event()

    async def video(request: web.Request) -> web.StreamResponse:
        connected.add(request.query["door"])
        response = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
        await response.prepare(request)
        while not release.is_set():  # a trickle: the reader never times out, keeps its thread
            await response.write(bytes(188))
            await asyncio.sleep(0.5)
        return response

    async with video_source(tmp_path, video) as (url, library):
        streams = [
            DoorbellStream(
                f"door-{n}",
                VideoSource(f"{url}?door={n}", "video/mp2t"),
                audio=False,
                config=RecordingConfig(),
                library=library,
                finished=lambda writer: None,
            )
            for n in range(count)
        ]
        for stream in streams:
            stream.start()
        try:
            # Within the streams' read timeout: a reader that timed out would hand its thread on.
            await wait_for(lambda: len(connected) == count, timeout=10)
        finally:
            release.set()
            await asyncio.gather(*(stream.stop() for stream in streams))


async def record_from(
    tmp_path: Path, content: bytes, content_type: str, *, audio: bool, seconds: float
) -> tuple[ClipLibrary, Clip]:
    """Serve `content` at about real time over HTTP, record a manual clip from it, return it."""

    async def serve(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        step = max(188, len(content) // int(seconds * 20) // 188 * 188)
        for offset in range(0, len(content), step):
            await response.write(content[offset : offset + step])
            await asyncio.sleep(0.05)
        return response

    config = RecordingConfig(pre_roll_seconds=1.0, post_roll_seconds=1.0)
    done: asyncio.Queue[Clip | None] = asyncio.Queue()
    tasks: set[asyncio.Task[None]] = set()

    def finished(writer: Any) -> None:
        async def finish() -> None:
            await done.put(await asyncio.to_thread(writer.finish))

        tasks.add(asyncio.get_running_loop().create_task(finish()))

    async with video_source(tmp_path, serve, config) as (url, library):
        stream = DoorbellStream(
            "door",
            VideoSource(url, content_type),
            audio=audio,
            config=config,
            library=library,
            finished=finished,
        )
        stream.start()
        try:
            await wait_for(lambda: stream.buffered_seconds >= 1.0, timeout=20)
            assert stream.trigger(ClipTrigger.MANUAL, None, None, 1.0) is not None
            clip = await asyncio.wait_for(done.get(), 20)
        finally:
            await stream.stop()
    assert clip is not None
    return library, clip


@pytest.mark.parametrize("audio", [False, True], ids=["audio-off", "audio-on"])
async def test_audio_is_kept_only_when_enabled(tmp_path: Path, audio: bool) -> None:
    """Privacy invariant 7: a source's audio track reaches a clip only when switched on."""
    source = tmp_path / "source.ts"
    await asyncio.to_thread(
        subprocess.run,
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "6", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "10", "-c:a", "aac", "-f", "mpegts", str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    library, clip = await record_from(
        tmp_path, source.read_bytes(), "video/mp2t", audio=audio, seconds=6
    )
    kinds = [s["codec_type"] for s in ffprobe(library.path(clip.file_name))["streams"]]
    assert kinds == (["video", "audio"] if audio else ["video"])
    assert clip.has_audio is audio


def luma_planes(path: Path) -> list[bytes]:
    """Every decoded frame's luma plane, in presentation order (blocking)."""
    with av.open(str(path)) as container:
        return [bytes(frame.planes[0]) for frame in container.decode(video=0)]


async def test_a_stream_with_b_frames_is_copied_whole_and_in_order(tmp_path: Path) -> None:
    """A stream without audio is probed from its keyframes only, which does not learn how far
    it reorders frames: a stream with B-frames still gives a clip that decodes to the source's
    pictures, every one, in order."""
    source = tmp_path / "source.ts"
    await asyncio.to_thread(
        subprocess.run,
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "6",
         "-c:v", "libx264", "-preset", "medium", "-bf", "3", "-g", "10", "-f", "mpegts",
         str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    library, clip = await record_from(
        tmp_path, source.read_bytes(), "video/mp2t", audio=False, seconds=6
    )
    path = library.path(clip.file_name)
    (stream,) = ffprobe(path)["streams"]
    assert stream["has_b_frames"] > 0, "the test stream reorders frames"
    wanted, recorded = await asyncio.gather(
        asyncio.to_thread(luma_planes, source), asyncio.to_thread(luma_planes, path)
    )
    assert len(recorded) >= 15
    start = wanted.index(recorded[0])
    assert recorded == wanted[start : start + len(recorded)]


async def test_thumbnails_of_large_video_are_scaled_down(tmp_path: Path) -> None:
    """A 720p clip's thumbnail is 640x360: a full-size JPEG per clip cost more than its copy."""
    source = tmp_path / "source.ts"
    await asyncio.to_thread(
        subprocess.run,
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=10",
         "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-f", "mpegts",
         str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    library, clip = await record_from(
        tmp_path, source.read_bytes(), "video/mp2t", audio=False, seconds=4
    )
    [video] = ffprobe(library.path(clip.file_name))["streams"]
    assert (video["width"], video["height"]) == (1280, 720), "the clip itself is untouched"
    thumbnail = keyframe_jpeg(library.path(clip.file_name), clip.trigger_time - clip.start)
    assert thumbnail is not None
    assert picture_of(thumbnail) == ("mjpeg", 640, 360)


def top_level_boxes(data: bytes) -> list[tuple[bytes, int]]:
    """The MP4's top-level boxes: (type, size), in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4])
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16])
        boxes.append((data[offset + 4 : offset + 8], size))
        offset += size or len(data)
    return boxes


def boxes_at(path: Path) -> list[tuple[bytes, int, int]]:
    """The MP4's top-level boxes: (type, start, end offset), in file order."""
    boxes, offset = [], 0
    for kind, size in top_level_boxes(path.read_bytes()):
        boxes.append((kind, offset, offset + size))
        offset += size
    return boxes


def video_packets(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.dts is not None)


@pytest.mark.parametrize(
    "cut",
    ["finished", "in the 2nd fragment's media", "in its index", "after its index"],
)
def test_a_recording_cut_off_keeps_its_whole_fragments(tmp_path: Path, cut: str) -> None:
    """Recovery keeps a crashed recording in place: cut back to its last whole fragment (a
    fragment's `moof` without its whole `mdat` goes too), it demuxes to the end without error."""
    source = tmp_path / "source.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "4", "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "10", "-c:a", "aac", "-f", "mp4",
         "-movflags", mp4.RECORDING_OPTIONS["movflags"], str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    boxes = boxes_at(source)
    fragments = [(start, end) for kind, start, end in boxes if kind == b"moof"]
    assert len(fragments) >= 3, boxes
    second_start, second_index_end = fragments[1]
    size, kept = {
        "finished": (boxes[-1][2], boxes[-1][2]),
        "in the 2nd fragment's media": (second_index_end + 100, second_start),
        "in its index": (second_index_end - 10, second_start),
        "after its index": (second_index_end, second_start),
    }[cut]
    data = source.read_bytes()
    recording = tmp_path / "clip.mp4.partial"
    recording.write_bytes(data[:size])

    assert mp4.keep_whole_fragments(recording) == kept
    assert recording.stat().st_size == kept
    assert recording.read_bytes() == data[:kept]
    found = mp4.probe(recording)
    assert found is not None
    assert found.has_audio
    assert found.video_packets == video_packets(recording) > 0
    if cut == "finished":
        assert found.video_packets == 40
    else:
        assert found.video_packets < 40
    [video] = [s for s in ffprobe(recording)["streams"] if s["codec_type"] == "video"]
    assert video["codec_name"] == "h264"


def test_a_recording_cut_in_its_first_index_keeps_nothing_playable(tmp_path: Path) -> None:
    source = tmp_path / "source.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
         "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-f", "mp4",
         "-movflags", mp4.RECORDING_OPTIONS["movflags"], str(source)],
        check=True, timeout=60,
    )  # fmt: skip
    (ftyp, _, _), (moov, _, moov_end) = boxes_at(source)[:2]
    assert (ftyp, moov) == (b"ftyp", b"moov")
    recording = tmp_path / "clip.mp4.partial"
    recording.write_bytes(source.read_bytes()[: moov_end - 1])
    kept = mp4.keep_whole_fragments(recording)
    assert recording.stat().st_size == kept < moov_end
    with pytest.raises(av.FFmpegError):
        mp4.probe(recording)


def test_sealing_gives_the_size_and_sha256_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    data = bytes(range(256)) * 4099
    path.write_bytes(data)
    assert mp4.seal(path) == (len(data), hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize(
    ("size", "thumbnail"),
    [
        ((1920, 1080), (640, 360)),
        ((1080, 1920), (360, 640)),
        ((2560, 1920), (640, 480)),
        ((640, 480), (640, 480)),
        ((320, 240), (320, 240)),  # never scaled up
        ((1000, 3), (640, 2)),
    ],
)
def test_thumbnail_sizes_keep_the_aspect_within_the_limit(
    size: tuple[int, int], thumbnail: tuple[int, int]
) -> None:
    assert thumbnail_size(*size) == thumbnail


async def test_a_new_doorbell_records_no_audio_until_the_owner_switches_it_on(
    session: SessionFactory, doorbells: DoorbellFactory
) -> None:
    """Privacy invariant 7 through the whole hub: the doorbell's microphone is on the wire,
    but its audio reaches a clip only after `record_audio` is switched on."""
    client = await session()
    door = await doorbells("sim-mic", audio=True)
    await client.buffering("sim-mic", PRE)
    assert (await client.get("doorbells/sim-mic"))["record_audio"] is False
    await door.press()
    clip = (await client.next_message("clip"))["clip"]
    library = client.hub.recorder.library
    kinds = [s["codec_type"] for s in ffprobe(library.path(clip["file_name"]))["streams"]]
    assert kinds == ["video"]
    assert clip["has_audio"] is False

    status, body = await client.call("PATCH", "doorbells/sim-mic", json={"record_audio": True})
    assert (status, body["record_audio"]) == (200, True)
    await wait_for(lambda: client.hub.recorder.streams["sim-mic"].audio)
    await client.buffering("sim-mic", PRE)
    await asyncio.sleep(2.5)  # past the press merge window
    await door.press()
    clip = (await client.next_message("clip"))["clip"]
    streams = ffprobe(library.path(clip["file_name"]))["streams"]
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [
        ("video", "h264"),
        ("audio", "aac"),
    ]
    assert clip["has_audio"] is True


async def test_mjpeg_sources_are_transcoded_to_h264(tmp_path: Path) -> None:
    picture = Picture("Side door", 160, 120)
    frames = [picture.jpeg(1_800_000_000 + n / 10) for n in range(60)]
    content = b"".join(
        b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
        % (len(jpeg), jpeg)
        for jpeg in frames
    )
    library, clip = await record_from(
        tmp_path, content, "multipart/x-mixed-replace; boundary=frame", audio=False, seconds=6
    )
    (probed,) = ffprobe(library.path(clip.file_name))["streams"]
    assert probed["codec_name"] == "h264"
    assert (probed["width"], probed["height"]) == (160, 120)
    # A keyframe a second (the frames decode alone: the thumbnail is the one nearest the trigger).
    times = keyframe_times(library.path(clip.file_name))
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(times) >= 2, times
    assert all(1.0 <= gap <= 1.3 for gap in gaps), times
    assert not library.path(clip.thumbnail_name).exists()
    # Its thumbnail is made from the H.264 clip, as any other clip's.
    thumbnail = keyframe_jpeg(library.path(clip.file_name), clip.trigger_time - clip.start)
    assert thumbnail is not None
    assert picture_of(thumbnail) == ("mjpeg", 160, 120)


async def test_retention_deletes_old_clips_and_honours_the_limits(
    session: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "doorward_hub.recording.library")
    client = await session(max_total_mb=1, retention_days=7, min_free_mb=0)
    library = client.hub.recorder.library
    store = client.hub.repositories.clips
    now = time.time()

    async def add(doorbell_id: str, age_days: float, size: int) -> Clip:
        start = now - age_days * 86400
        name = library.new_file_name(doorbell_id, start)
        write_atomically(library.path(name), b"\0" * size)
        write_atomically(library.path(name.removesuffix(".mp4") + ".jpg"), b"\xff\xd8")
        clip = Clip(
            0, doorbell_id, ClipTrigger.PRESS, None, start, start, start + 5, size, "", name
        )
        return (await store.add_clip(clip, clip_announcement))[0]

    old = await add("front", 8, 1000)
    recent = [await add("front", age, 400 * 1024) for age in (3, 2, 1)]
    deleted = await library.enforce_retention()
    # The 8-day-old clip goes for its age; the oldest recent one for the 1 MB quota.
    assert [c.id for c in deleted] == [old.id, recent[0].id]
    kept = await client.get("clips")
    assert [c["id"] for c in kept["clips"]] == [recent[2].id, recent[1].id]
    assert not library.path(old.file_name).exists()
    assert not library.path(old.thumbnail_name).exists()
    assert "older than 7 days" in caplog.text
    assert "exceed 1 MB" in caplog.text
    removed = await client.next_message("clip_removed")
    assert removed["clip_id"] == old.id

    # Free-disk guard: with too little room left, the oldest go first.
    library.free_bytes = lambda _folder: 0
    library._config = RecordingConfig(min_free_mb=1)
    deleted = await library.enforce_retention()
    assert [c.id for c in deleted] == [recent[1].id, recent[2].id]

    # Deleting through the API; errors are JSON.
    survivor = await add("front", 0, 10)
    status, _ = await client.call("DELETE", f"clips/{survivor.id}")
    assert status == 204
    assert not library.path(survivor.file_name).exists()
    status, body = await client.call("GET", f"clips/{survivor.id}")
    assert status == 404
    assert body["error"] == "unknown_clip"
    status, body = await client.call("GET", "clips?trigger=doorknock")
    assert status == 400
    assert "trigger" in body["message"]
    status, body = await client.call("GET", "clips?since=soon")
    assert status == 400
    assert "since" in body["message"]


async def add_clip(
    library: ClipLibrary, store: Any, doorbell_id: str, age_days: float, size: int
) -> Clip:
    """A clip of `size` bytes that ended `age_days` ago, its files in place and indexed."""
    start = time.time() - age_days * 86400
    name = library.new_file_name(doorbell_id, start)
    write_atomically(library.path(name), b"\0" * size)
    write_atomically(library.path(name.removesuffix(".mp4") + ".jpg"), b"\xff\xd8")
    clip = Clip(0, doorbell_id, ClipTrigger.PRESS, None, start, start, start + 5, size, "", name)
    added: tuple[Clip, object] = await store.add_clip(clip, clip_announcement)
    return added[0]


async def test_free_disk_retention_deletes_only_until_there_is_room(
    session: SessionFactory,
) -> None:
    """The free-space source is a small disk holding just the clips folder: each deletion gives
    room back, so only the oldest clips that must go, go."""
    client = await session(min_free_mb=1, retention_days=30)
    library = client.hub.recorder.library
    disk = 2 * MIB

    def free(folder: Path) -> int:
        return disk - sum(p.stat().st_size for p in folder.iterdir())

    clips = [
        await add_clip(library, client.hub.repositories.clips, "front", age, 400 * 1024)
        for age in (4, 3, 2, 1)
    ]
    library.free_bytes = free
    deleted = await library.enforce_retention()
    # 1.6 MiB used of 2 MiB: two clips must go for 1 MiB free, the oldest two.
    assert [c.id for c in deleted] == [clips[0].id, clips[1].id]
    assert free(library.folder) >= MIB
    kept = (await client.get("clips"))["clips"]
    assert sorted(c["id"] for c in kept) == [clips[2].id, clips[3].id]
    assert await library.enforce_retention() == [], "enough room: nothing more goes"


async def test_retention_limits_are_exact(session: SessionFactory) -> None:
    """At a limit nothing goes; one step past it, the oldest clip goes: days of 86400 s,
    megabytes of 1048576 bytes."""
    client = await session(retention_days=10, max_total_mb=1, min_free_mb=1)
    library, store = client.hub.recorder.library, client.hub.repositories.clips
    disk = [0]  # the disk's size: free is what the clip videos leave of it

    def free(folder: Path) -> int:
        return disk[0] - sum(p.stat().st_size for p in folder.glob("*.mp4"))

    library.free_bytes = free
    half = MIB // 2
    older = await add_clip(library, store, "front", 1, half)
    newer = await add_clip(library, store, "front", 0, half)
    disk[0] = 2 * MIB
    assert await library.enforce_retention() == [], "exactly 1 MiB in clips, 1 MiB free"
    disk[0] = 2 * MIB - 1  # one byte short of the floor: the oldest clip goes, no more
    assert [c.id for c in await library.enforce_retention()] == [older.id]

    # Age: a clip that ended ten days (of 86400 s) and 5 s ago goes; one that ended 5 s short
    # of ten days ago stays (a day 1 s off would be 10 s off).
    now = time.time()
    for ended_ago, doomed in ((10 * 86400 + 5, True), (10 * 86400 - 5, False)):
        start = now - ended_ago - 5
        name = library.new_file_name("front", start)
        write_atomically(library.path(name), b"\0")
        clip, _ = await store.add_clip(
            Clip(0, "front", ClipTrigger.PRESS, None, start, start, start + 5, 1, "", name),
            clip_announcement,
        )
        deleted = [c.id for c in await library.enforce_retention()]
        assert deleted == ([clip.id] if doomed else []), ended_ago
    assert newer.id in {c["id"] for c in (await client.get("clips"))["clips"]}


async def test_each_doorbell_keeps_clips_for_its_own_retention_days(
    session: SessionFactory, doorbells: DoorbellFactory
) -> None:
    client = await session(retention_days=7)
    for device_id in ("sim-short", "sim-long"):
        await doorbells(device_id)
    await wait_for(lambda: {"sim-short", "sim-long"} <= set(client.hub.doorbells.doorbells))
    status, body = await client.call("PATCH", "doorbells/sim-short", json={"retention_days": 1})
    assert (status, body["retention_days"]) == (200, 1)
    status, body = await client.call("PATCH", "doorbells/sim-long", json={"retention_days": 30})
    assert (status, body["retention_days"]) == (200, 30)
    library, store = client.hub.recorder.library, client.hub.repositories.clips
    short_old = await add_clip(library, store, "sim-short", 2, 10)
    short_new = await add_clip(library, store, "sim-short", 0.5, 10)
    long_old = await add_clip(library, store, "sim-long", 10, 10)
    other_old = await add_clip(library, store, "forgotten", 10, 10)  # the hub's 7 days
    other_new = await add_clip(library, store, "forgotten", 2, 10)
    deleted = await library.enforce_retention()
    assert sorted(c.id for c in deleted) == sorted([short_old.id, other_old.id])
    kept = {c["id"] for c in (await client.get("clips"))["clips"]}
    assert kept == {short_new.id, long_old.id, other_new.id}

    # null means the hub's default again.
    status, body = await client.call("PATCH", "doorbells/sim-long", json={"retention_days": None})
    assert (status, body["retention_days"]) == (200, None)
    assert [c.id for c in await library.enforce_retention()] == [long_old.id]


async def test_retention_runs_at_start_and_every_interval(
    tmp_path: Path, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = hub_config(tmp_path / "hub", recording=RecordingConfig(retention_days=7))
    hub = Hub(config)
    await hub.start()
    old = await add_clip(hub.recorder.library, hub.repositories.clips, "front", 8, 10)
    await hub.stop()  # nothing ran retention since the clip was added

    hub = Hub(config)
    await hub.start()
    try:
        assert await hub.repositories.clips.all_clips() == [], "start-up retention ran"
        assert not hub.recorder.library.path(old.file_name).exists()
    finally:
        await hub.stop()

    monkeypatch.setattr(library_module, "RETENTION_INTERVAL", 0.2)
    hub = Hub(config)
    await hub.start()
    try:
        library = hub.recorder.library
        late = await add_clip(library, hub.repositories.clips, "front", 8, 10)
        fresh = await add_clip(library, hub.repositories.clips, "front", 1, 10)

        async def only_fresh_left() -> bool:
            return [c.id for c in await hub.repositories.clips.all_clips()] == [fresh.id]

        await wait_for(only_fresh_left, timeout=5)
        assert not library.path(late.file_name).exists()
    finally:
        await hub.stop()


async def test_clip_listing_pages_and_filters(session: SessionFactory) -> None:
    client = await session()
    store, library = client.hub.repositories.clips, client.hub.recorder.library
    ids = []
    for index in range(5):
        name = library.new_file_name("front" if index % 2 else "back", 1000.0 + index)
        write_atomically(library.path(name), b"x")
        trigger = ClipTrigger.MOTION if index == 4 else ClipTrigger.PRESS
        clip = Clip(
            0,
            "front" if index % 2 else "back",
            trigger,
            None,
            0,
            1000 + index * 10,
            1005 + index * 10,
            1,
            "",
            name,
        )
        ids.append((await store.add_clip(clip, clip_announcement))[0].id)
    page = await client.get("clips?limit=2")
    assert [c["id"] for c in page["clips"]] == ids[:2:-1][:2]
    assert page["more"] is True
    rest = await client.get(f"clips?limit=10&before={page['clips'][-1]['id']}")
    assert [c["id"] for c in rest["clips"]] == [ids[2], ids[1], ids[0]]
    assert rest["more"] is False
    window = await client.get("clips?since=1012&until=1031")
    assert [c["id"] for c in window["clips"]] == [ids[3], ids[2], ids[1]]
    motion = await client.get("clips?trigger=motion")
    assert [c["id"] for c in motion["clips"]] == [ids[4]]


def test_recording_config_names_the_bad_key() -> None:
    assert validate({}).recording == RecordingConfig()
    assert validate({"recording": {"pre_roll_seconds": 0}}).recording.pre_roll_seconds == 0
    for raw, names in [
        ({"recording": {"pre_roll_seconds": 31}}, "recording.pre_roll_seconds"),
        ({"recording": {"colour": 1}}, "recording.colour: unknown key"),
        ({"recording": {"max_total_mb": 0}}, "recording.max_total_mb"),
    ]:
        with pytest.raises(ConfigError, match=names):
            validate(raw)
