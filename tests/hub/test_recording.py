"""The recorder with a real hub and simulated doorbells: clips, API, retention, crash safety."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from aiohttp import web

from doorward_hub.app import Hub
from doorward_hub.config import ConfigError, RecordingConfig, validate
from doorward_hub.core.files import write_atomically
from doorward_hub.devices.drivers.base import VideoSource
from doorward_hub.events.bus import EventBus
from doorward_hub.models import Clip, ClipTrigger
from doorward_hub.recording.library import ClipLibrary
from doorward_hub.recording.stream import DoorbellStream
from doorward_hub.storage.repositories import Repositories
from doorward_simulator.device import SimulatedDoorbell
from doorward_simulator.video import Picture

from .conftest import LOOPBACK, Process, free_port, hub_config, pair_client, wait_for
from .test_processes import serve_args, start_simulator, wait_until_serving

PRE, POST = 2.0, 2.0
GOP = 1.0  # the simulator's keyframe interval

type DoorbellFactory = Callable[[str], Awaitable[SimulatedDoorbell]]


@pytest.fixture
async def doorbells() -> AsyncIterator[DoorbellFactory]:
    """Simulated doorbells on 127.0.0.1; all stop at the end."""
    started: list[SimulatedDoorbell] = []

    async def start(device_id: str) -> SimulatedDoorbell:
        doorbell = SimulatedDoorbell(device_id, "Front door", LOOPBACK, 0, interfaces=[LOOPBACK])
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
    assert data.index(b"moov") < data.index(b"mdat"), "faststart: the index comes first"
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
    status, jpeg = await client.call("GET", f"clips/{clip['id']}/thumbnail")
    assert status == 200
    assert jpeg[:2] == b"\xff\xd8"


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


async def test_a_stream_that_is_not_video_never_takes_the_hub_down(tmp_path: Path) -> None:
    """A source that sends garbage is retried with back-off; the recorder keeps running."""
    app = web.Application()
    hits: list[int] = []

    async def garbage(request: web.Request) -> web.StreamResponse:
        hits.append(1)
        response = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
        await response.prepare(request)
        await response.write(b"\x00not a transport stream" * 5000)
        return response

    app.router.add_get("/video", garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    port = runner.addresses[0][1]
    stored = await Repositories.open(tmp_path / "hub.db")
    library = ClipLibrary(
        stored.clips,
        tmp_path / "clips",
        RecordingConfig(),
        EventBus(stored.events, 2.0),
        lambda _: None,
    )
    executor = ThreadPoolExecutor(2)
    stream = DoorbellStream(
        "sim-garbage",
        VideoSource(f"http://{LOOPBACK}:{port}/video", "video/mp2t"),
        audio=False,
        config=RecordingConfig(),
        library=library,
        executor=executor,
        finished=lambda writer: None,
    )
    stream.start()
    try:
        await wait_for(lambda: len(hits) >= 2, timeout=20)
        assert stream.buffered_seconds == 0.0
        assert stream.trigger(ClipTrigger.MANUAL, None, None, 1.0) is None
    finally:
        await stream.stop()
        await stored.close()
        await runner.cleanup()
        executor.shutdown()


async def record_from(
    tmp_path: Path, content: bytes, content_type: str, *, audio: bool, seconds: float
) -> tuple[ClipLibrary, Clip]:
    """Serve `content` at about real time over HTTP, record a manual clip from it, return it."""
    app = web.Application()

    async def serve(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        step = max(188, len(content) // int(seconds * 20) // 188 * 188)
        for offset in range(0, len(content), step):
            await response.write(content[offset : offset + step])
            await asyncio.sleep(0.05)
        return response

    app.router.add_get("/video", serve)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, LOOPBACK, 0).start()
    stored = await Repositories.open(tmp_path / "hub.db")
    config = RecordingConfig(pre_roll_seconds=1.0, post_roll_seconds=1.0)
    library = ClipLibrary(
        stored.clips, tmp_path / "clips", config, EventBus(stored.events, 2.0), lambda _: None
    )
    done: asyncio.Queue[Clip | None] = asyncio.Queue()
    tasks: set[asyncio.Task[None]] = set()

    def finished(writer: Any) -> None:
        async def finish() -> None:
            await done.put(await asyncio.to_thread(writer.finish))

        tasks.add(asyncio.get_running_loop().create_task(finish()))

    executor = ThreadPoolExecutor(2)
    stream = DoorbellStream(
        "door",
        VideoSource(f"http://{LOOPBACK}:{runner.addresses[0][1]}/video", content_type),
        audio=audio,
        config=config,
        library=library,
        executor=executor,
        finished=finished,
    )
    stream.start()
    try:
        await wait_for(lambda: stream.buffered_seconds >= 1.0, timeout=20)
        assert stream.trigger(ClipTrigger.MANUAL, None, None, 1.0) is not None
        clip = await asyncio.wait_for(done.get(), 20)
    finally:
        await stream.stop()
        await stored.close()
        await runner.cleanup()
        executor.shutdown()
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
    assert library.path(clip.thumbnail_name).read_bytes()[:2] == b"\xff\xd8"


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
        return await store.add_clip(clip)

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
        ids.append((await store.add_clip(clip)).id)
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


async def test_a_hub_killed_while_writing_leaves_folder_and_index_in_agreement(
    tmp_path: Path, processes: Callable[[list[str], str], Process], http: aiohttp.ClientSession
) -> None:
    port = free_port()
    data = tmp_path / "hub"
    config = tmp_path / "hub.yaml"
    config.write_text("recording: {pre_roll_seconds: 1, post_roll_seconds: 1}\n")
    args = [*serve_args(data, port), "--config", str(config)]
    hub = processes(args, "hub")
    door = await start_simulator(processes, tmp_path, "door")
    await wait_until_serving(http, hub, port)
    base = f"http://{LOOPBACK}:{port}/api/v1"
    token = await pair_client(
        http, f"http://{LOOPBACK}:{port}", (data / "pairing-code").read_text().strip()
    )
    headers = {"Authorization": f"Bearer {token}"}

    async def record(duration: float) -> bool:
        async with http.post(
            f"{base}/doorbells/{door['id']}/record", headers=headers, json={"duration": duration}
        ) as response:
            return response.status == 202

    clips = data / "clips"
    # A finished clip first, then one that is being written when the hub dies.
    await wait_for(lambda: record(1), timeout=30)
    await wait_for(lambda: list(clips.glob("*.mp4")), timeout=30)
    await wait_for(lambda: record(60), timeout=30)
    await wait_for(lambda: list(clips.glob("*.partial")), timeout=30)
    hub.stop(signal.SIGKILL)
    assert list(clips.glob("*.partial")), "the kill happened mid-write"

    hub = processes(args, "hub-again")
    await wait_until_serving(http, hub, port)
    async with http.get(f"{base}/clips", headers=headers) as response:
        listed = (await response.json())["clips"]
    files = {p.name for p in clips.iterdir()}
    indexed = {c["file_name"] for c in listed}
    assert not any(name.endswith(".partial") for name in files)
    assert {name for name in files if name.endswith(".mp4")} == indexed
    assert len(indexed) == 1
    for clip in listed:
        async with http.get(f"{base}/clips/{clip['id']}/video", headers=headers) as response:
            assert hashlib.sha256(await response.read()).hexdigest() == clip["sha256"]
