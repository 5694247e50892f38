"""Real H.264 clips and JPEG thumbnails for share tests, made with PyAV (libx264)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from doorward_hub.exports.clip import ExportClip


def make_clip(folder: Path, clip_id: str, start_ms: int, seconds: float = 2.0) -> ExportClip:
    """An MP4 (H.264, 320x240, 10 fps, noisy frames so every clip's bytes differ) and a JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"{clip_id}.mp4"
    thumbnail = folder / f"{clip_id}.jpg"
    first = None
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(int(seconds * 10)):
            frame = av.VideoFrame(320, 240, "yuv420p")
            for plane in frame.planes:
                plane.update(os.urandom(plane.buffer_size))
            frame.pts = index
            frame.time_base = Fraction(1, 10)
            first = first or frame
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    assert first is not None
    video.chmod(0o600)  # as the hub writes its clips
    encoder = av.VideoCodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    picture = first.reformat(format="yuvj420p")
    picture.pts = 0
    thumbnail.write_bytes(
        b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])
    )
    thumbnail.chmod(0o600)
    return ExportClip(
        clip_id=clip_id,
        video=video,
        thumbnail=thumbnail,
        start_ms=start_ms,
        end_ms=start_ms + int(seconds * 1000),
        clock_source="device",
        trigger="ring",
    )
