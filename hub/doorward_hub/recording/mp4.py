"""MP4 files of clips: the fragmented MP4 written while recording is the clip itself. Its index
(`moov`, with the first fragment's samples) comes first and every later fragment carries its own
(`moof`), so it plays while downloading and every whole fragment on disk is playable after a
crash; the `mfra` box at its end indexes the keyframes for seeking. Also: sealing a finished
file, cutting a crashed one back to its whole fragments, probing, and a JPEG of the keyframe
nearest a time (a clip's thumbnail; all blocking: call them off the event loop)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.reformatter import ColorRange, Interpolation

RECORDING_OPTIONS = {
    # A fragment per keyframe or second, each written (and flushed) as soon as it is complete.
    # No `empty_moov`: the first fragment's index carries the AAC config taken from ADTS.
    "movflags": "frag_keyframe+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
"""Container options of the MP4 a clip is recorded into."""

NO_PROBE_DECODING = {"skip_frame": "all"}
"""Options that open a clip without decoding frames to describe its streams."""

THUMBNAIL_MAX_SIDE = 640
"""Thumbnails fit in this square (as 640x360 event thumbnails do elsewhere): a 1080p frame
encoded at full size costs more CPU than the whole clip's stream copy, and 300 kB per
notification where 20 kB shows the same."""


@dataclass(frozen=True, slots=True)
class Probed:
    """What a clip file holds: its video's first and last frame times (seconds into the file)."""

    first: float
    last: float
    video_packets: int
    has_audio: bool

    @property
    def duration(self) -> float:
        """Seconds from the first to the last video frame."""
        return self.last - self.first


def seal(path: Path) -> tuple[int, str]:
    """Make the recorded file at `path` durable (one fdatasync) and return its size and SHA-256,
    read back from the page cache it was just written through."""
    with path.open("rb") as file:
        os.fdatasync(file.fileno())
        size = os.fstat(file.fileno()).st_size
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    return size, digest


def keep_whole_fragments(path: Path) -> int:
    """Cut a recording that stopped mid-write back to its last whole box, dropping a fragment
    whose media (`mdat`) is cut off together with its index (`moof`); the size kept. What is
    kept is a playable fragmented MP4 (blocking)."""
    with path.open("r+b") as file:
        end = os.fstat(file.fileno()).st_size
        offset = whole = 0
        while offset + 8 <= end:
            file.seek(offset)
            header = file.read(16)
            size = int.from_bytes(header[:4])
            if size == 1 and len(header) == 16:
                size = int.from_bytes(header[8:16])
            if size < 8 or offset + size > end:
                break  # cut off (or "to the end", which a recording in progress never writes)
            offset += size
            if header[4:8] != b"moof":  # a fragment's index counts once its media is whole
                whole = offset
        if whole < end:
            file.truncate(whole)
    return whole


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The size of a frame scaled down (never up) to fit `THUMBNAIL_MAX_SIDE`, even sides."""
    scale = min(1.0, THUMBNAIL_MAX_SIDE / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def jpeg(frame: av.VideoFrame) -> bytes:
    """A baseline JFIF JPEG of a decoded frame, scaled down to the thumbnail size."""
    width, height = thumbnail_size(frame.width, frame.height)
    encoder = av.VideoCodecContext.create("mjpeg", "w")
    encoder.thread_count = 1  # a 640 px picture: threads would cost more to start than they save
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuvj420p"
    encoder.sample_aspect_ratio = Fraction(1, 1)  # makes FFmpeg write the JFIF header
    encoder.time_base = Fraction(1, 1)
    # One swscale pass scales and converts; AREA averages the pixels it drops (no aliasing).
    picture = frame.reformat(
        width,
        height,
        "yuvj420p",
        interpolation=Interpolation.AREA,
        src_color_range=ColorRange.MPEG,
        dst_color_range=ColorRange.JPEG,
    )
    picture.pts = 0
    return b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])


def keyframe(path: Path, at: float) -> av.VideoFrame | None:
    """The keyframe of `path` nearest `at` seconds into it (the last one at or before `at` or
    the first one after it, whichever is nearer), decoded alone: packets are demuxed without
    decoding until a keyframe past `at` is seen, then only the chosen one is decoded (the other
    if it does not). None if neither decodes."""
    # Opening probes the streams, and FFmpeg decodes a frame to do so: half the cost of a
    # thumbnail. The clip's index and the decoder configuration are all this needs.
    with av.open(str(path), options=NO_PROBE_DECODING) as container:
        if not container.streams.video:
            return None
        video = container.streams.video[0]
        candidates: list[tuple[float, av.Packet[Any]]] = []
        with contextlib.suppress(av.FFmpegError):  # a damaged tail: use the keyframes before it
            for packet in container.demux(video):
                if not packet.is_keyframe or packet.pts is None or packet.time_base is None:
                    continue
                when = float(packet.pts * packet.time_base)
                candidates = [(when, packet)] if when <= at else [*candidates[:1], (when, packet)]
                if when > at:
                    break
        candidates.sort(key=lambda candidate: abs(candidate[0] - at))  # stable: ties go earlier
        for _, packet in candidates:
            frame = _decode_alone(packet, video.codec_context)
            if frame is not None:
                return frame
        return None


def _decode_alone(packet: av.Packet[Any], codec: av.VideoCodecContext) -> av.VideoFrame | None:
    """`packet` (a keyframe) decoded by a fresh decoder like `codec` (the stream's)."""
    decoder = av.VideoCodecContext.create(codec.name, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    decoder.thread_count = 1  # one frame: one thread, no per-thread frame pools
    # The deblocking filter is a quarter of the decoding, and what it smooths (a mean 0.75 of
    # 255 per pixel on the simulator's video) is averaged away by scaling to thumbnail size.
    decoder.options = {"skip_loop_filter": "all"}
    if codec.extradata:
        decoder.extradata = codec.extradata
    try:
        frames = [*decoder.decode(packet), *decoder.decode(None)]
    except (av.FFmpegError, ValueError):
        return None
    return frames[0] if frames else None


def keyframe_jpeg(path: Path, at: float) -> bytes | None:
    """The JPEG (thumbnail size) of the keyframe of `path` nearest `at` seconds; None if it
    does not decode (blocking)."""
    frame = keyframe(path, at)
    return None if frame is None else jpeg(frame)


def probe(path: Path) -> Probed | None:
    """The video's first and last frame times of a finished MP4; None if it has no video."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        video = container.streams.video[0]
        times = [
            packet.pts * video.time_base
            for packet in container.demux(video)
            if packet.pts is not None and video.time_base is not None
        ]
        if not times:
            return None
        return Probed(
            float(min(times)), float(max(times)), len(times), bool(container.streams.audio)
        )
