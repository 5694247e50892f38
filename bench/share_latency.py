"""Neighbor posts: share latency, encryption cost against a plain copy, and fan-out.

    scripts/toolchain isolated python bench/share_latency.py [--members 10] [--shares 5]
        [--clip-seconds 10]

On loopback, in one run: a real Synapse (`scripts/synapse`, SQLite, test rate limits), a group
host that creates a group, one sharing household hub and `--members` receiving household hubs,
each the hub's own `NeighborhoodService` (its own data folder, Matrix device, crypto store, feed)
in this process, all syncing continuously. The sharer shares `--shares` H.264 clips
(libx264, 320x240, noise so they do not compress: `--clip-seconds` long).

Prints:
- encryption: the export's AES-CTR encryption and SHA-256 of the clip (`encrypt_file`) against
  a plain file copy of the same clip (`shutil.copyfile`), same run, median of 10 each;
- share latency: from the share call to the first and to the last member hub having the clip
  downloaded, decrypted, verified and stored (p50 and max over the shares);
- whether every member got every post exactly once and verified.
Nothing asserts timings.
"""

import argparse
import asyncio
import importlib.util
import logging
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from doorward_hub.audit.log import AuditLog
from doorward_hub.exports.clip import ExportClip
from doorward_hub.exports.identity_key import load_or_create
from doorward_hub.exports.package import encrypt_file
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.neighborhood.group_host import GroupHost
from doorward_hub.neighborhood.items import Comment, NeighborPost
from doorward_hub.neighborhood.service import NeighborhoodService

REPO = Path(__file__).resolve().parents[1]


def load_synapse_script() -> Any:
    spec = importlib.util.spec_from_file_location("doorward_synapse", REPO / "scripts/synapse.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make_clip(folder: Path, clip_id: str, seconds: float) -> ExportClip:
    """A noisy 320x240 H.264 MP4 at 10 fps and a JPEG thumbnail."""
    folder.mkdir(parents=True, exist_ok=True)
    video, thumbnail = folder / f"{clip_id}.mp4", folder / f"{clip_id}.jpg"
    first = None
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(int(seconds * 10)):
            frame = av.VideoFrame(320, 240, "yuv420p")
            for plane in frame.planes:
                plane.update(secrets.token_bytes(plane.buffer_size))
            frame.pts, frame.time_base = index, Fraction(1, 10)
            first = first or frame
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    assert first is not None
    encoder = av.VideoCodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    picture = first.reformat(format="yuvj420p")
    picture.pts = 0
    thumbnail.write_bytes(
        b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])
    )
    now_ms = int(time.time() * 1000)
    return ExportClip(
        clip_id, video, thumbnail, now_ms, now_ms + int(seconds * 1000), "device", "ring"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median_ms(action: Any, repeats: int = 10) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class MadeClips:
    """The benchmark's clips, by id or by time, as the recording library gives them."""

    def __init__(self, clips: dict[str, ExportClip]) -> None:
        self.clips = clips

    async def __call__(self, clip_id: str) -> ExportClip | None:
        return self.clips.get(clip_id)

    async def between(self, start_ms: int, end_ms: int) -> list[ExportClip]:
        found = [c for c in self.clips.values() if c.end_ms >= start_ms and c.start_ms <= end_ms]
        return sorted(found, key=lambda c: c.start_ms)


async def household(folder: Path, name: str, clips: dict[str, ExportClip]) -> NeighborhoodService:
    service = NeighborhoodService(
        folder,
        hub_name=name,
        identity=load_or_create(folder),
        audit=await AuditLog.open(folder),
        clips=MadeClips(clips),
        received_retention_days=7,
    )
    await service.start()
    return service


async def run(args: argparse.Namespace) -> None:
    synapse = load_synapse_script()
    with tempfile.TemporaryDirectory(prefix="doorward-bench-") as scratch:
        root = Path(scratch)
        clips = {
            str(i): make_clip(root / "clips", str(i), args.clip_seconds) for i in range(args.shares)
        }
        size = clips["0"].video.stat().st_size
        print(f"clip: {size / 1e6:.1f} MB, {args.clip_seconds:.0f} s, 320x240 H.264")
        copy_ms = median_ms(lambda: shutil.copyfile(clips["0"].video, root / "copy.mp4"))
        encrypt_ms = median_ms(lambda: encrypt_file(clips["0"].video, "video/mp4"))
        print(
            f"encryption: encrypt_file {encrypt_ms:.1f} ms ({size / 1e3 / encrypt_ms:.0f} MB/s), "
            f"plain copy {copy_ms:.1f} ms ({size / 1e3 / copy_ms:.0f} MB/s), "
            f"ratio {encrypt_ms / copy_ms:.1f}x"
        )

        server = synapse.configure(root / "synapse", "street.bench", free_port(), test_limits=True)
        process = synapse.start(server)
        services: list[NeighborhoodService] = []
        host = None
        try:
            admin, password = "bench-admin", secrets.token_urlsafe(16)
            synapse.register(server, admin, password, admin=True)
            host = await GroupHost.sign_in(root / "host", server.url, admin, password)
            await host.create("Bench Street", GroupPolicy())
            started = time.perf_counter()
            sharer = await household(root / "sharer", "Sharer", clips)
            await sharer.set_home(52.370216, 4.895168)
            await sharer.join((await host.invite()).encode(), "bench")
            services.append(sharer)
            arrivals: dict[str, dict[int, float]] = {}
            for index in range(args.members):
                member = await household(root / f"m{index}", f"Member {index}", {})
                await member.set_home(52.37 + index * 0.001, 4.89)
                await member.join((await host.invite()).encode(), "bench")

                def arrived(item: NeighborPost | Comment, index: int = index) -> None:
                    if isinstance(item, NeighborPost) and item.verified:
                        arrivals.setdefault(item.event_id, {})[index] = time.perf_counter()

                member.subscribe(arrived)
                services.append(member)
            print(
                f"group: 1 sharing hub + {args.members} member hubs joined in "
                f"{time.perf_counter() - started:.1f} s"
            )
            await asyncio.sleep(2)  # every hub's first sync

            first_ms, last_ms, references = [], [], []
            for clip_id in clips:
                shared_at = time.perf_counter()
                result = await sharer.share_clip(clip_id, f"bench {clip_id}", "bench")
                references.append(result.reference)
                deadline = time.monotonic() + 120
                while len(arrivals.get(result.reference, {})) < args.members:
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.01)
                times = sorted(arrivals.get(result.reference, {}).values())
                if times:
                    first_ms.append((times[0] - shared_at) * 1000)
                    last_ms.append((times[-1] - shared_at) * 1000)
            print(
                f"share latency (share call -> clip decrypted, verified, stored): "
                f"first member p50 {statistics.median(first_ms):.0f} ms "
                f"max {max(first_ms):.0f} ms; "
                f"last of {args.members} p50 {statistics.median(last_ms):.0f} ms "
                f"max {max(last_ms):.0f} ms"
            )
            await asyncio.sleep(2)
            complete = all(len(arrivals.get(ref, {})) == args.members for ref in references)
            stored_once = True
            for member in services[1:]:
                posts = [p.event_id for p in await member.posts(1000)]
                stored_once &= sorted(posts) == sorted(references)
            print(
                f"every member got every post verified: {complete}; "
                f"stored exactly once: {stored_once}"
            )
        finally:
            for service in services:
                await service.stop()
            if host is not None:
                await host.close()
            synapse.stop(process)


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # nio warns for every first Olm session
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--shares", type=int, default=5)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
