"""Pre-encoded footage: H.264 made once at a real size and bitrate, replayed by many doorbells.

Encoding 720p or 1080p in real time costs a core per stream or more, so a machine could drive
only a few doorbells at the sizes real doorbells send. `Footage.load` encodes a loop once with
libx264 (moving shapes over a textured background plus fresh sensor noise in every frame, so the
encoder really spends the requested bitrate), caches it on disk as MPEG-TS, and keeps its
packets in memory; replaying them costs a packet copy and a mux per frame. The loop starts with
an IDR frame and has one every `KEYFRAME_INTERVAL`, baseline profile (no B-frames: decode order
is presentation order), so it repeats seamlessly with the timestamps carried on.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FOOTAGE_VERSION = 1
"""Bump when the generated picture changes, so caches are made afresh."""
LOOP_SECONDS = 10.0
"""Length of the encoded loop."""
KEYFRAME_SECONDS = 1.0
"""Seconds between IDR frames in the loop (as the live encoder does)."""


def cache_folder() -> Path:
    """Where generated footage is kept: ``$DOORWARD_FOOTAGE_DIR`` or the user's cache folder."""
    if folder := os.environ.get("DOORWARD_FOOTAGE_DIR"):
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "doorward-simulator"


@dataclass(frozen=True, slots=True)
class FootageSpec:
    """What to encode: picture size, frame rate and target bitrate (bits per second)."""

    width: int
    height: int
    fps: int = 15
    bitrate: int = 3_000_000

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2 or not 128 <= self.width <= 4096:
            raise ValueError(
                f"footage size must be even and 128..4096 wide: {self.width}x{self.height}"
            )
        if not 96 <= self.height <= 4096:
            raise ValueError(f"footage height must be 96..4096: {self.height}")
        if not 1 <= self.fps <= 60:
            raise ValueError(f"footage fps must be 1..60, got {self.fps}")
        if not 100_000 <= self.bitrate <= 50_000_000:
            raise ValueError(f"footage bitrate must be 0.1..50 Mbit/s, got {self.bitrate}")

    @property
    def file_name(self) -> str:
        """The cache file's name: everything that changes the footage is in it."""
        kbps = self.bitrate // 1000
        return f"v{FOOTAGE_VERSION}-{self.width}x{self.height}-{self.fps}fps-{kbps}kbps.ts"


@dataclass(frozen=True, slots=True)
class FootageFrame:
    """One encoded frame of the loop: its H.264 access unit and whether it is an IDR frame."""

    data: bytes
    keyframe: bool


class Footage:
    """A loop of encoded H.264 frames at a fixed rate, loaded from (or made into) the cache."""

    def __init__(self, spec: FootageSpec, path: Path, frames: list[FootageFrame]) -> None:
        self.spec = spec
        self.path = path
        self.frames = frames

    @property
    def bitrate(self) -> float:
        """The loop's real average bitrate in bits per second."""
        size = sum(len(frame.data) for frame in self.frames)
        return size * 8 * self.spec.fps / len(self.frames)

    @classmethod
    def load(cls, spec: FootageSpec, folder: Path | None = None) -> Footage:
        """The footage for `spec`, encoded first if the cache lacks it (blocking, seconds)."""
        folder = folder or cache_folder()
        path = folder / spec.file_name
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            _encode(spec, path)
        frames: list[FootageFrame] = []
        with av.open(str(path)) as container:
            for packet in container.demux(video=0):
                if packet.size:
                    frames.append(FootageFrame(bytes(packet), packet.is_keyframe))
        if not frames or not frames[0].keyframe:
            raise ValueError(f"{path} does not start with a keyframe: delete it to encode anew")
        return cls(spec, path, frames)

    def open_template(self) -> av.container.InputContainer:
        """The cache file opened for reading: its video stream is a muxing template."""
        return av.open(str(self.path))


def _scene(spec: FootageSpec) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(1234)
    # A textured background (a porch): smooth gradients plus fine, fixed detail.
    y, x = np.mgrid[0 : spec.height, 0 : spec.width]
    background = 60 + 80 * (x / spec.width) + 40 * np.sin(y / 23.0) * np.cos(x / 31.0)
    background += rng.normal(0, 12, background.shape)
    return np.clip(background, 16, 235).astype(np.float32), rng


def _frame_luma(
    spec: FootageSpec, background: np.ndarray, rng: np.random.Generator, index: int
) -> np.ndarray:
    t = index / spec.fps
    luma = background.copy()
    # Two walkers crossing the picture, one loop's worth of motion, so the loop closes cleanly.
    phase = t / LOOP_SECONDS
    for speed, row, size, value in ((1, 0.45, 0.22, 210.0), (-2, 0.6, 0.15, 40.0)):
        side = int(spec.height * size)
        cx = int(((phase * speed) % 1.0) * (spec.width + side)) - side
        cy = int(spec.height * row + 0.05 * spec.height * np.sin(2 * np.pi * phase * 3))
        x0, x1 = max(0, cx), min(spec.width, cx + side)
        y0, y1 = max(0, cy), min(spec.height, cy + 2 * side)
        if x0 < x1 and y0 < y1:
            luma[y0:y1, x0:x1] = value
    luma += rng.normal(0, 6, luma.shape).astype(np.float32)  # sensor noise, new every frame
    return np.clip(luma, 16, 235).astype(np.uint8)


def _encode(spec: FootageSpec, path: Path) -> None:
    """Encode the loop into `path` (written under a temporary name, then renamed)."""
    background, rng = _scene(spec)
    chroma = np.full((spec.height // 2, spec.width // 2), 128, np.uint8)
    count = round(LOOP_SECONDS * spec.fps)
    gop = max(1, round(KEYFRAME_SECONDS * spec.fps))
    handle, temporary = tempfile.mkstemp(prefix=".footage-", suffix=".ts", dir=path.parent)
    os.close(handle)
    try:
        with av.open(temporary, "w", format="mpegts") as container:
            stream = container.add_stream(
                "libx264",
                rate=Fraction(spec.fps),
                options={
                    "preset": "veryfast",
                    "profile": "baseline",
                    "x264-params": (
                        f"keyint={gop}:min-keyint={gop}:scenecut=0:bitrate={spec.bitrate // 1000}:"
                        f"vbv-maxrate={spec.bitrate // 1000}:vbv-bufsize={spec.bitrate // 1000}"
                    ),
                },
            )
            stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
            for index in range(count):
                frame = av.VideoFrame(spec.width, spec.height, "yuv420p")
                luma = _frame_luma(spec, background, rng, index)
                for plane, data in zip(frame.planes, (luma, chroma, chroma), strict=True):
                    rows = data.shape[0]
                    padded = np.zeros((rows, plane.line_size), np.uint8)
                    padded[:, : data.shape[1]] = data
                    plane.update(padded.tobytes())
                frame.pts = index
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
