"""MP4 files of clips: the fragmented file written while recording (every fragment on disk is
playable after a crash), the normal seekable copy with its index first (faststart) that clips are
kept as, and a JPEG of a clip's frame (all blocking: call them off the event loop)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import ColorRange, Interpolation

from doorward_hub.core.files import create_private_file

RECORDING_OPTIONS = {
    # A fragment per keyframe or second, each written (and flushed) as soon as it is complete.
    # No `empty_moov`: the first fragment's index carries the AAC config taken from ADTS.
    "movflags": "frag_keyframe+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
"""Container options of the MP4 a clip is recorded into."""

INDEX_BYTES = 4 * 1024
INDEX_BYTES_PER_PACKET = 24
"""Room kept at the start of a clip for its index: headers, plus per packet its size, duration,
composition offset, keyframe mark and chunk entry (a few bytes each). Writing the index into
room kept for it spares the second pass of faststart, which reads and rewrites the whole file to
shift its data behind the index; unused room stays as a `free` box."""

THUMBNAIL_MAX_SIDE = 640
"""Thumbnails fit in this square (as 640x360 event thumbnails do elsewhere): a 1080p frame
encoded at full size costs more CPU than the whole clip's stream copy, and 300 kB per
notification where 20 kB shows the same."""


@dataclass(frozen=True, slots=True)
class Remuxed:
    """What a remux copied: the video's first and last frame times (seconds into the file)."""

    first: float
    last: float
    video_packets: int
    has_audio: bool

    @property
    def duration(self) -> float:
        """Seconds from the first to the last video frame."""
        return self.last - self.first


def remux_faststart(source: Path, target: Path, packets: int | None = None) -> Remuxed | None:
    """Copy the video (and audio) of `source`, a finished or cut-off recording, into a private
    MP4 at `target` with its index at the start; fsynced. None (and no `target`) if `source` has
    no video packet. A cut-off last fragment ends the copy, it does not fail it.

    Given how many `packets` `source` holds, the index is written into room kept for it in one
    pass; else (or if that room is too small) by faststart's second pass."""
    try:
        try:
            result = _remux(source, target, _index_first(packets))
        except av.FFmpegError:
            if packets is None:
                raise
            result = _remux(source, target, _index_first(None))
    except (av.FFmpegError, OSError, ValueError):
        target.unlink(missing_ok=True)
        raise
    if result is None:
        target.unlink(missing_ok=True)
        return None
    with target.open("rb") as file:
        os.fsync(file.fileno())
    return result


def _index_first(packets: int | None) -> dict[str, str]:
    """Muxer options that put the index first: in room kept for `packets`, or by faststart."""
    if packets is None:
        return {"movflags": "+faststart"}
    return {"moov_size": str(INDEX_BYTES + INDEX_BYTES_PER_PACKET * packets)}


def _remux(source: Path, target: Path, options: dict[str, str]) -> Remuxed | None:
    with av.open(str(source)) as src:
        if not src.streams.video:
            return None
        video = src.streams.video[0]
        streams: list[av.stream.Stream] = [video, *src.streams.audio[:1]]
        create_private_file(target)  # PyAV truncates it and keeps the mode
        with av.open(str(target), "w", format="mp4", container_options=options) as out:
            mapping = {stream.index: out.add_stream_from_template(stream) for stream in streams}
            first: Fraction | None = None
            last = Fraction(0)
            count = 0
            packets = src.demux(streams)
            while True:
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.FFmpegError:
                    break  # the fragment being written when the hub stopped
                if packet.dts is None:
                    continue
                if packet.stream.index == video.index and packet.pts is not None:
                    when = packet.pts * video.time_base if video.time_base else Fraction(0)
                    first = when if first is None else min(first, when)
                    last = max(last, when)
                    count += 1
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
            if first is None:
                return None
    return Remuxed(float(first), float(last), count, len(streams) > 1)


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The size of a frame scaled down (never up) to fit `THUMBNAIL_MAX_SIDE`, even sides."""
    scale = min(1.0, THUMBNAIL_MAX_SIDE / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def jpeg(frame: av.VideoFrame) -> bytes:
    """A baseline JFIF JPEG of a decoded frame, scaled down to the thumbnail size."""
    width, height = thumbnail_size(frame.width, frame.height)
    encoder = av.VideoCodecContext.create("mjpeg", "w")
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


def frame_jpeg(path: Path, at: float) -> bytes | None:
    """The JPEG of the first decodable frame of `path` at or after `at` seconds (or its last
    frame if none is that late); None if no frame decodes."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        video = container.streams.video[0]
        video.thread_count = 1
        chosen: av.VideoFrame | None = None
        try:
            for frame in container.decode(video):
                chosen = frame
                if frame.time is not None and frame.time >= at:
                    break
        except av.FFmpegError:
            pass  # keep the last good frame
        return None if chosen is None else jpeg(chosen)


def probe(path: Path) -> Remuxed | None:
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
        return Remuxed(
            float(min(times)), float(max(times)), len(times), bool(container.streams.audio)
        )
