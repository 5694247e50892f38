"""Writing one clip: packets copied into a fragmented MP4 (or MJPEG transcoded to H.264) in the
stream's thread, with its journal once the first frame is in; then finished in a worker thread:
the file as recorded is the clip (written once), so finishing is one fdatasync, its SHA-256 read
back from the page cache and the rename. Its thumbnail is made when first asked for (`library`)."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.logging
from av.video.frame import PictureType

from doorward_hub.core.files import PARTIAL_SUFFIX, create_private_file
from doorward_hub.models import Clip, ClipTrigger
from doorward_hub.recording.journal import ClipJournal, journal_path
from doorward_hub.recording.mp4 import RECORDING_OPTIONS, seal

# PyAV's bridge from FFmpeg's log callback into Python logging has deadlocked threads: keep it off.
av.logging.set_level(None)

_LOGGER = logging.getLogger(__name__)

TRANSCODE_TIME_BASE = Fraction(1, 1000)
TRANSCODE_KEYFRAME_SECONDS = 1.0
"""A transcoded clip has a keyframe a second, as H.264 doorbells send: its thumbnail (the
keyframe nearest the trigger, decoded alone) is then at most half a second off, and it seeks."""


@dataclass(slots=True)
class BufferedPacket:
    """One demuxed packet with its timestamps as demuxed (the packet's own get rewritten)."""

    packet: av.Packet[Any]
    time: float
    pts: int | None
    dts: int | None
    time_base: Fraction
    video: bool
    key: bool


@dataclass(slots=True)
class ClipRequest:
    """A clip asked for by a trigger; `end` grows with later triggers."""

    trigger: ClipTrigger
    seq: int | None
    trigger_time: float
    start: float
    end: float


def _decoder(codec: str) -> av.VideoCodecContext:
    decoder = av.VideoCodecContext.create(codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    return decoder


class ClipWriter:
    """Writes one clip (in the demuxer thread) and finishes it (in a worker thread)."""

    def __init__(
        self,
        doorbell_id: str,
        request: ClipRequest,
        target: Path,
        *,
        video: av.VideoStream,
        audio: av.AudioStream | None,
        transcode: bool,
    ) -> None:
        """Open the temporary, fragmented MP4 next to `target`, with streams like the source's."""
        self.doorbell_id = doorbell_id
        self.request = request
        self.target = target
        self.partial = target.with_name(target.name + PARTIAL_SUFFIX)
        self._transcode = transcode
        create_private_file(self.partial)  # PyAV truncates it and keeps the mode
        self._container = av.open(
            str(self.partial), "w", format="mp4", container_options=RECORDING_OPTIONS
        )
        self._out: dict[int, av.stream.Stream] = {}
        self._offsets: dict[int, int] = {}
        self._origin: Fraction | None = None  # device seconds of the first keyframe's dts
        self._video_index = video.index
        self._decoder: av.VideoCodecContext | None = None
        self._encoder: av.VideoStream | None = None
        self._last_pts = -1
        self._last_keyframe: float | None = None
        if transcode:
            self._decoder = _decoder(video.codec_context.name)
        else:
            self._out[video.index] = self._container.add_stream_from_template(video)
            if audio is not None:
                self._out[audio.index] = self._container.add_stream_from_template(audio)
        self.has_audio = audio is not None and not transcode
        self.first: float | None = None
        self.last: float | None = None

    def add(self, entry: BufferedPacket) -> None:
        """Write one packet (demuxer thread)."""
        if self._transcode:
            self._add_transcoded(entry)
            return
        stream = self._out.get(entry.packet.stream_index)
        if stream is None or entry.dts is None:
            return
        if self._origin is None:
            if not (entry.video and entry.key):
                return
            self._origin = entry.dts * entry.time_base
        offset = self._offsets.get(entry.packet.stream_index)
        if offset is None:
            offset = self._offsets[entry.packet.stream_index] = round(
                self._origin / entry.time_base
            )
        if entry.dts < offset:
            return  # audio from before the first keyframe
        packet = entry.packet
        packet.stream = stream
        packet.time_base = entry.time_base
        packet.dts = entry.dts - offset
        packet.pts = None if entry.pts is None else entry.pts - offset
        self._container.mux(packet)
        if entry.video:
            self._mark(entry.time)

    def _mark(self, when: float) -> None:
        if self.first is None:
            self.first = when
            self._write_journal()
        self.last = when

    def _write_journal(self) -> None:
        assert self.first is not None
        journal = ClipJournal(
            self.doorbell_id,
            self.request.trigger.value,
            self.request.seq,
            self.request.trigger_time,
            self.first,
        )
        try:
            journal.write(self.target)
        except OSError:
            _LOGGER.warning(
                "Could not write a clip's journal; a crash now loses the clip",
                extra={"doorbell_id": self.doorbell_id},
            )

    def _add_transcoded(self, entry: BufferedPacket) -> None:
        assert self._decoder is not None
        for frame in self._decoder.decode(entry.packet):
            if self._encoder is None:
                encoder = self._container.add_stream(
                    "libx264", options={"preset": "veryfast", "tune": "zerolatency"}
                )
                encoder.width, encoder.height, encoder.pix_fmt = (
                    frame.width,
                    frame.height,
                    "yuv420p",
                )
                encoder.time_base = encoder.codec_context.time_base = TRANSCODE_TIME_BASE
                self._encoder = encoder
            if self.first is None:
                self.first = entry.time
                self._write_journal()
            picture = frame.reformat(format="yuv420p")
            self._last_pts = max(self._last_pts + 1, round((entry.time - self.first) * 1000))
            picture.pts, picture.time_base = self._last_pts, TRANSCODE_TIME_BASE
            # A decoded JPEG is an I picture, which the encoder would make a keyframe of.
            picture.pict_type = PictureType.NONE
            if (
                self._last_keyframe is None
                or entry.time - self._last_keyframe >= TRANSCODE_KEYFRAME_SECONDS
            ):
                picture.pict_type = PictureType.I
                self._last_keyframe = entry.time
            self._container.mux(self._encoder.encode(picture))
            self._mark(entry.time)

    def abort(self) -> None:
        """Give up on the clip and remove its temporary files and journal."""
        with contextlib.suppress(av.FFmpegError, OSError):
            self._container.close()
        self.partial.unlink(missing_ok=True)
        journal_path(self.target).unlink(missing_ok=True)

    def finish(self) -> Clip | None:
        """Close, seal and move the clip into place (worker thread). None if nothing usable."""
        try:
            if self._encoder is not None:
                self._container.mux(self._encoder.encode(None))
            self._container.close()
        except av.FFmpegError:
            _LOGGER.exception("Could not finish a clip", extra={"doorbell_id": self.doorbell_id})
            self.abort()
            return None
        if self.first is None or self.last is None:
            self.abort()
            return None
        try:
            size, digest = seal(self.partial)
        except OSError:
            _LOGGER.exception("Could not finish a clip", extra={"doorbell_id": self.doorbell_id})
            self.abort()
            return None
        self.partial.replace(self.target)
        sync_folder(self.target.parent)
        return Clip(
            id=0,
            doorbell_id=self.doorbell_id,
            trigger=self.request.trigger,
            trigger_seq=self.request.seq,
            trigger_time=self.request.trigger_time,
            start=self.first,
            end=self.last,
            size=size,
            sha256=digest,
            file_name=self.target.name,
            has_audio=self.has_audio,
        )


def sync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable (blocking)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
