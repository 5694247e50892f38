"""Recorder cost and capacity at real sizes: CPU against `ffmpeg -c copy`, the knee, hub RSS.

Runs N simulated doorbells in this process and the hub as a subprocess (recording on), both on
loopback. The doorbells replay pre-encoded H.264 (`--footage 1280x720` by default, 15 fps,
`--bitrate`; encoded once into the simulator's cache), so they cost no encoding; `--footage
320x240@clock` keeps the encoded clock picture (320x240, 10 fps) of the earlier figures.
Each doorbell is pressed every `pre + post` seconds, so the hub's clips cover the whole
stream back to back. In the same run, one `ffmpeg -c copy -f segment` per doorbell reads the same
live stream and cuts it into segments of the same length: the reference for the cost of
buffering and writing clips. CPU is read from /proc for the hub and the ffmpeg processes over
the same window (the simulators run in this process: their CPU is printed apart).

The latency is the time from the end of a clip's post-roll (press + post-roll, on the device
clock, which is this machine's clock) to the hub announcing the clip as listed (the WebSocket
`clip` message, sent once the index row is committed), checked against `GET /clips`.

With a list of counts (`--doorbells 8,16,24,32,40`) it runs once per count and reports the knee:
the first count at which the hub loses or shortens a clip (a press without its clip, a clip
shorter than pre + post), lets the simulator drop it as a viewer that fell behind, or lists clips
later than a second after their post-roll. The hub's RSS (now and peak) is read from /proc.
After the window, every clip's thumbnail is asked for once (the hub makes a thumbnail when it is
first asked for): its CPU is printed apart, and with the recording's as the cost if every clip
were viewed.

    scripts/toolchain isolated python bench/recorder_cpu.py [--doorbells 4] [--seconds 60]
    scripts/toolchain isolated python bench/recorder_cpu.py --footage 1920x1080 --doorbells 10
    scripts/toolchain isolated python bench/recorder_cpu.py --doorbells 8,16,24,32 --no-reference
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from doorward_hub.models import iso_time
from doorward_simulator.device import SimulatedDoorbell
from doorward_simulator.footage import Footage, FootageSpec

LOOPBACK = "127.0.0.1"
TICKS = os.sysconf("SC_CLK_TCK")
TARGET_RATIO = 1.0
"""Recorder CPU at most `ffmpeg -c copy`'s on the same input."""
TARGET_STREAMS_720P = 32
TARGET_RSS_MB_1080P_10 = 150
LATE = 1.0
"""Seconds after its post-roll by which a clip must be listed, or the hub is falling behind."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> tuple[float, float]:
    """A process's resident memory now and at its peak, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    now = re.search(r"VmRSS:\s+(\d+) kB", status)
    peak = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert now is not None
    assert peak is not None
    return int(now[1]) / 1024, int(peak[1]) / 1024


def clip_seconds(clip: dict[str, Any]) -> float:
    """A listed clip's length, from its ISO start and end times."""
    start, end = (datetime.fromisoformat(clip[key]) for key in ("start", "end"))
    return (end - start).total_seconds()


class ViewerDrops(logging.Handler):
    """Counts the simulator's warnings about a viewer (the hub) that fell behind and was cut."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "fell" in record.getMessage():
            self.count += 1


@dataclass
class Result:
    """One run's figures."""

    doorbells: int
    elapsed: float = 0.0
    hub_cpu: float = 0.0
    ffmpeg_cpu: float | None = None
    bench_cpu: float = 0.0
    presses: int = 0
    clips: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    short: int = 0
    unlisted: int = 0
    viewer_drops: int = 0
    rss: tuple[float, float] = (0.0, 0.0)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    thumbnails: int = 0
    thumbnail_cpu: float = 0.0
    thumbnail_peak_rss: float = 0.0

    @property
    def late(self) -> int:
        return sum(latency > LATE for latency in self.latencies)

    @property
    def kept_up(self) -> bool:
        return not (self.lost or self.short or self.unlisted or self.viewer_drops or self.late)


async def wait_online(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], n: int
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with http.get(f"{base}/doorbells", headers=headers) as response:
            doorbells = (await response.json())["doorbells"]
        if sum(d["online"] for d in doorbells) >= n:
            return
        await asyncio.sleep(0.2)
    raise SystemExit("doorbells did not come online within 60 s")


async def list_clip_ids(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str]
) -> set[int]:
    """Every clip id `GET /clips` lists, page by page."""
    ids: set[int] = set()
    query = "limit=500"
    while True:
        async with http.get(f"{base}/clips?{query}", headers=headers) as response:
            page = await response.json()
        ids.update(clip["id"] for clip in page["clips"])
        if not page["more"]:
            return ids
        query = f"limit=500&before={min(ids)}"


async def run(
    count: int,
    seconds: float,
    pre: float,
    post: float,
    footage: Footage | None,
    reference: bool,
    drops: ViewerDrops,
) -> Result:
    with tempfile.TemporaryDirectory(prefix="doorward-bench-") as tmp:
        folder = Path(tmp)
        config = folder / "hub.yaml"
        config.write_text(
            f"recording: {{pre_roll_seconds: {pre}, post_roll_seconds: {post}, min_free_mb: 0}}\n"
        )
        port = free_port()
        hub = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "doorward_hub", "serve", "--config", str(config),
            "--data-dir", f"{tmp}/hub", "--host", LOOPBACK, "--port", str(port),
            "--interface", LOOPBACK, "--log-level", "warning",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        doorbells = [
            SimulatedDoorbell(
                f"bench-{n}", f"Bench {n}", LOOPBACK, interfaces=[LOOPBACK], footage=footage
            )
            for n in range(count)
        ]
        result = Result(count)
        drops.count = 0
        try:
            for doorbell in doorbells:
                await doorbell.start()
            await measure(hub, port, folder, doorbells, seconds, pre, post, reference, result)
            result.viewer_drops = drops.count
        finally:
            for doorbell in doorbells:
                await doorbell.stop()
            hub.send_signal(signal.SIGTERM)
            await asyncio.wait_for(hub.wait(), 30)
    return result


async def measure(
    hub: asyncio.subprocess.Process,
    port: int,
    folder: Path,
    doorbells: list[SimulatedDoorbell],
    seconds: float,
    pre: float,
    post: float,
    reference: bool,
    result: Result,
) -> None:
    base = f"http://{LOOPBACK}:{port}/api/v1"
    code_file = folder / "hub" / "pairing-code"
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 30
        while not code_file.exists():
            if hub.returncode is not None or time.monotonic() > deadline:
                raise SystemExit("the hub did not start")
            await asyncio.sleep(0.1)
        # The code is written before the server listens: on a busy machine, well before.
        while True:
            try:
                code = {"code": code_file.read_text().strip()}
                async with http.post(f"{base}/pair", json=code) as r:
                    headers = {"Authorization": f"Bearer {(await r.json())['token']}"}
                break
            except aiohttp.ClientConnectorError:
                if hub.returncode is not None or time.monotonic() > deadline:
                    raise SystemExit("the hub did not start listening") from None
                await asyncio.sleep(0.2)
        await wait_online(http, base, headers, len(doorbells))

        # The reference: ffmpeg cutting the same live streams into segments by stream copy.
        segments = folder / "ffmpeg"
        segments.mkdir()
        ffmpegs = [
            await asyncio.create_subprocess_exec(
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                # The simulator is ours: borrow the token it issued to the hub.
                "-headers",
                f"Authorization: Bearer {doorbell._token}\r\n",
                "-i",
                f"{doorbell.url}/doorward/v1/video",
                "-map",
                "0:v",
                "-c",
                "copy",
                "-f",
                "segment",
                "-segment_time",
                str(pre + post),
                "-segment_format",
                "mp4",
                "-segment_format_options",
                "movflags=+faststart",
                "-reset_timestamps",
                "1",
                str(segments / f"{doorbell.device_id}-%04d.mp4"),
                stdout=subprocess.DEVNULL,
            )
            for doorbell in (doorbells if reference else [])
        ]
        planned: dict[tuple[str, str], float] = {}
        all_listed = asyncio.Event()
        try:
            await asyncio.sleep(pre + 3)  # both have connected and filled their buffers
            ws = await http.ws_connect(f"{base}/ws", headers=headers)

            async def listen() -> None:
                async for msg in ws:
                    message = msg.json()
                    if message["type"] == "clip":
                        clip = message["clip"]
                        result.clips.append(clip)
                        end = planned.pop((clip["doorbell_id"], clip["trigger_time"]), None)
                        if end is not None:
                            result.latencies.append(time.time() - end)
                        if pressing.done() and not planned:
                            all_listed.set()

            listener = asyncio.create_task(listen())
            hub_cpu = cpu_seconds(hub.pid)
            ffmpeg_cpu = sum(cpu_seconds(p.pid) for p in ffmpegs)
            bench_cpu = cpu_seconds(os.getpid())
            started = time.monotonic()
            cycle = pre + post

            async def presser(doorbell: SimulatedDoorbell, offset: float) -> None:
                # Spread over the cycle, so the clips of different doorbells end apart.
                await asyncio.sleep(offset)
                while time.monotonic() - started < seconds:
                    event = await doorbell.press()
                    result.presses += 1
                    planned[(doorbell.device_id, iso_time(event["time"]))] = event["time"] + post
                    await asyncio.sleep(cycle)

            pressing = asyncio.gather(
                *(presser(d, n * cycle / len(doorbells)) for n, d in enumerate(doorbells))
            )
            await pressing
            result.elapsed = time.monotonic() - started
            result.hub_cpu = cpu_seconds(hub.pid) - hub_cpu
            if ffmpegs:
                result.ffmpeg_cpu = sum(cpu_seconds(p.pid) for p in ffmpegs) - ffmpeg_cpu
            result.bench_cpu = cpu_seconds(os.getpid()) - bench_cpu
            result.rss = rss_mb(hub.pid)
            result.load = os.getloadavg()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_listed.wait(), post + 10)
            listener.cancel()
            await ws.close()
            listed = await list_clip_ids(http, base, headers)
            await view_thumbnails(http, base, headers, hub.pid, result)
        finally:
            for process in ffmpegs:
                process.send_signal(signal.SIGINT)
            for process in ffmpegs:
                await asyncio.wait_for(process.wait(), 30)
    result.lost = len(planned)
    # A clip covers pre + post unless the buffer lacked pre-roll or the stream stalled; allow
    # one keyframe interval (the pre-roll starts at a keyframe) and a frame of slack.
    result.short = sum(clip_seconds(c) < pre + post - 1.1 for c in result.clips)
    result.unlisted = sum(c["id"] not in listed for c in result.clips)


async def view_thumbnails(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], pid: int, result: Result
) -> None:
    """Ask for every clip's thumbnail once, as a person browsing them would: the hub makes each
    when first asked for. Its CPU for that, apart from the recording's."""
    before = cpu_seconds(pid)
    for clip in result.clips:
        async with http.get(f"{base}/clips/{clip['id']}/thumbnail", headers=headers) as response:
            if response.status == 200 and await response.read():
                result.thumbnails += 1
    result.thumbnail_cpu = cpu_seconds(pid) - before
    result.thumbnail_peak_rss = rss_mb(pid)[1]


def report(result: Result, size: str, pre: float, post: float) -> None:
    """Print one run's figures next to their references; no verdict the data does not carry."""
    minutes = result.doorbells * result.elapsed / 60
    print(
        f"\n{result.doorbells} doorbells ({size}), {result.elapsed:.0f} s window, pre {pre:g} s "
        f"+ post {post:g} s; load average {result.load[0]:.2f} {result.load[1]:.2f} "
        f"{result.load[2]:.2f} (2 cores, shared)"
    )
    print(
        f"hub (recorder)    {result.hub_cpu:6.2f} CPU s = {result.hub_cpu / minutes:.3f} CPU s "
        f"per stream-minute = {result.hub_cpu / result.elapsed:.2f} cores"
    )
    if result.ffmpeg_cpu is not None:
        ratio = result.hub_cpu / result.ffmpeg_cpu
        print(
            f"ffmpeg -c copy    {result.ffmpeg_cpu:6.2f} CPU s = "
            f"{result.ffmpeg_cpu / minutes:.3f} CPU s per stream-minute"
        )
        if result.lost:  # the hub did less work than planned: its CPU figure proves nothing
            verdict = f"void, {result.lost} clips lost"
        else:
            verdict = "within" if ratio <= TARGET_RATIO else "ABOVE"
        print(f"ratio hub/ffmpeg  {ratio:.2f}x (target <= {TARGET_RATIO:.1f}x: {verdict})")
    if result.thumbnails:
        each = result.thumbnail_cpu / result.thumbnails * 1000
        print(
            f"thumbnails        {result.thumbnail_cpu:6.2f} CPU s for {result.thumbnails} made on "
            f"first request afterwards ({each:.1f} ms each; every clip viewed once"
            + (
                f": {(result.hub_cpu + result.thumbnail_cpu) / result.ffmpeg_cpu:.2f}x ffmpeg)"
                if result.ffmpeg_cpu
                else ")"
            )
        )
    print(f"simulators+bench  {result.bench_cpu:6.2f} CPU s (this process: replay, muxing, client)")
    print(f"hub RSS           {result.rss[0]:.0f} MB now, {result.rss[1]:.0f} MB peak", end="")
    if result.thumbnails:
        print(f" ({result.thumbnail_peak_rss:.0f} MB peak after the thumbnails)", end="")
    if result.doorbells == 10 and size.startswith("1920x1080"):
        print(f" (target < {TARGET_RSS_MB_1080P_10} MB with 10 doorbells at 1080p)")
    else:
        print(f" (the target, < {TARGET_RSS_MB_1080P_10} MB, is for 10 doorbells at 1080p)")
    ms = sorted(v * 1000 for v in result.latencies)
    if ms:
        print(
            f"post-roll end -> clip listed: n={len(ms)} p50={statistics.median(ms):.0f} ms "
            f"p95={ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]:.0f} ms max={ms[-1]:.0f} ms "
            f"(late > {LATE * 1000:.0f} ms: {result.late})"
        )
    print(
        f"presses {result.presses}, clips {len(result.clips)}: lost {result.lost}, short "
        f"{result.short}, not in GET /clips {result.unlisted}, hub cut as a lagging viewer "
        f"{result.viewer_drops} -> {'kept up' if result.kept_up else 'FELL BEHIND'}"
    )


def parse_footage(text: str) -> tuple[int, int] | None:
    if text == "320x240@clock":
        return None
    match = re.fullmatch(r"([0-9]{2,4})x([0-9]{2,4})", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT or 320x240@clock, got {text!r}")
    return int(match[1]), int(match[2])


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N,N,..., got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"counts must be positive, got {text!r}")
    return counts


async def main_async(args: argparse.Namespace) -> int:
    """Run each count, print its figures; 1 if any run lost or missed a clip."""
    drops = ViewerDrops()
    logging.getLogger("doorward_simulator.video").addHandler(drops)
    footage = None
    size = "320x240, 10 fps, encoded clock"
    if args.footage is not None:
        width, height = args.footage
        spec = FootageSpec(width, height, bitrate=args.bitrate)
        footage = await asyncio.to_thread(Footage.load, spec)
        size = f"{spec.width}x{spec.height}, {spec.fps} fps, {footage.bitrate / 1e6:.2f} Mbit/s"
    results: list[Result] = []
    for count in args.doorbells:
        result = await run(count, args.seconds, args.pre, args.post, footage, args.reference, drops)
        report(result, size, args.pre, args.post)
        results.append(result)
    if len(results) > 1:
        kept = [r.doorbells for r in results if r.kept_up]
        fell = [r.doorbells for r in results if not r.kept_up]
        knee = max((n for n in kept if all(m > n for m in fell)), default=None)
        print(f"\nknee ({size}): ", end="")
        if knee is None:
            print(f"none of {[r.doorbells for r in results]} kept up")
        else:
            after = min((m for m in fell if m > knee), default=None)
            tail = f", fell behind at {after}" if after else ", the largest count tried"
            print(f"kept up with {knee} streams{tail}", end="")
            if footage is not None and footage.spec.width == 1280:
                print(f" (target >= {TARGET_STREAMS_720P} at 720p/3 Mbit/s)")
            else:
                print(f" (the target, >= {TARGET_STREAMS_720P}, is for 720p/3 Mbit/s)")
    return 0 if all(r.lost == 0 and r.unlisted == 0 for r in results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--doorbells", type=parse_counts, default=[4], help="N, or N,N,... to find the knee"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    parser.add_argument("--pre", type=float, default=5.0, help="pre-roll seconds")
    parser.add_argument("--post", type=float, default=10.0, help="post-roll seconds")
    parser.add_argument(
        "--footage", type=parse_footage, default=(1280, 720), metavar="WxH",
        help="pre-encoded footage size (default 1280x720), or 320x240@clock",
    )  # fmt: skip
    parser.add_argument("--bitrate", type=int, default=3_000_000, help="footage bits per second")
    parser.add_argument(
        "--no-reference", dest="reference", action="store_false",
        help="skip the ffmpeg -c copy reference (capacity runs)",
    )  # fmt: skip
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
