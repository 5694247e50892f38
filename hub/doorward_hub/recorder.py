"""The recorder: a pre-roll ring buffer of encoded packets per doorbell, and event clips.

For every doorbell that is online, has video and is not in privacy mode, a thread reads the live
stream over HTTP and demuxes it (PyAV), with no hop to the event loop per chunk. It keeps the last
`pre_roll_seconds` of packets as whole GOPs and writes the clip a trigger asked for: from the
keyframe at or before trigger - pre-roll until post-roll after the last trigger (a trigger while
a clip is being written extends it). H.264 is copied packet by packet into MP4, never re-encoded;
MJPEG is transcoded to H.264. Finishing a clip (closing the MP4 with faststart, fsync, SHA-256,
the thumbnail, the rename) runs in a worker thread; the index row is added last.

Times are on the doorbell's clock when the stream says how its timestamps map to it (the
`X-Doorward-Epoch` header), otherwise on the hub's clock at arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import logging
import os
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import av.logging
from av.video.reformatter import ColorRange

from .clips import PARTIAL_SUFFIX, ClipLibrary
from .config import RecordingConfig
from .doorbells import DoorbellManager, DoorbellUnavailable
from .drivers.base import VideoSource
from .models import Clip, ClipTrigger, Doorbell, DoorbellStatus, Event, EventType

# PyAV's bridge from FFmpeg's log callback into Python logging has deadlocked threads: keep it off.
av.logging.set_level(None)

_LOGGER = logging.getLogger(__name__)

EPOCH_HEADER = "X-Doorward-Epoch"
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
STABLE_SECONDS = 30.0
"""A stream that ran this long before it ended is retried after the shortest back-off."""
CONNECT_TIMEOUT = 5.0
COALESCE_SECONDS = 0.2
READ_SIZE = 64 * 1024
READ_TIMEOUT = 15.0
CLOCK_TOLERANCE = 5.0
"""Seconds an event's device time may lie ahead of the newest frame (the video lags behind)."""
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "opus"})
PROBE_OPTIONS = {"probesize": "1000000", "analyzeduration": "1000000"}
TRANSCODE_TIME_BASE = Fraction(1, 1000)
VIEWER_QUEUE_SIZE = 256
"""Body chunks a live viewer of a shared stream may fall behind before it is dropped."""
_TRIGGERS = {EventType.PRESS: ClipTrigger.PRESS, EventType.MOTION_START: ClipTrigger.MOTION}


def is_mjpeg(content_type: str) -> bool:
    """True for the content types of MJPEG streams (multipart JPEG over HTTP)."""
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    return kind.startswith("multipart/") or "jpeg" in kind


class VideoStreamError(Exception):
    """The video stream could not be read; the message says why."""


class _Body:
    """The body of an HTTP response as PyAV reads it: whatever has arrived, up to `size`.

    Live video arrives a frame at a time; waking up for each one costs more CPU than handling
    it. Once caught up with the stream, the reader waits `COALESCE_SECONDS` and then takes
    everything that arrived meanwhile in one read. Chunked transfer coding is undone here.
    """

    def __init__(
        self, response: http.client.HTTPResponse, tap: Callable[[bytes], None] | None = None
    ) -> None:
        self._tap = tap  # sees every body byte PyAV reads (live viewers share the stream)
        self._file = response.fp
        self._chunked = response.chunked
        self._buffer = bytearray()
        self._left = 0  # bytes of the current chunk still to come
        self._after_chunk = False  # a chunk's closing CRLF comes next
        self._caught_up = False

    def _fill(self) -> bool:
        if self._caught_up:
            time.sleep(COALESCE_SECONDS)
        data = self._file.read1(READ_SIZE)
        self._caught_up = len(data) < READ_SIZE
        self._buffer += data
        return bool(data)

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read(self, size: int) -> bytes:
        """Up to `size` bytes, blocking until some arrive; b"" at the end."""
        while self._chunked and self._left == 0:
            if self._after_chunk and len(self._buffer) >= 2:
                del self._buffer[:2]
                self._after_chunk = False
            end = self._buffer.find(b"\r\n")
            if self._after_chunk or end < 0:
                if not self._fill():
                    return b""
                continue
            size_field = self._take(end + 2).split(b";")[0].strip()
            try:
                self._left = int(size_field, 16)
            except ValueError:
                raise VideoStreamError("malformed chunked transfer coding") from None
            if self._left == 0:
                return b""  # the last chunk
        if not self._buffer and not self._fill():
            return b""
        data = self._take(min(size, self._left) if self._chunked else size)
        if self._chunked:
            self._left -= len(data)
            self._after_chunk = self._left == 0
        if self._tap is not None:
            self._tap(data)
        return data


@dataclass(slots=True)
class _Entry:
    """One demuxed packet with its timestamps as demuxed (the packet's own get rewritten)."""

    packet: av.Packet[Any]
    time: float
    pts: int | None
    dts: int | None
    time_base: Fraction
    video: bool
    key: bool


@dataclass(slots=True)
class _Request:
    """A clip asked for by a trigger; `end` grows with later triggers."""

    trigger: ClipTrigger
    seq: int | None
    trigger_time: float
    start: float
    end: float


def _jpeg(frame: av.VideoFrame) -> bytes:
    """A baseline JFIF JPEG of a decoded frame."""
    encoder = av.VideoCodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.sample_aspect_ratio = Fraction(1, 1)  # makes FFmpeg write the JFIF header
    encoder.time_base = Fraction(1, 1)
    picture = frame.reformat(
        format="yuvj420p", src_color_range=ColorRange.MPEG, dst_color_range=ColorRange.JPEG
    )
    picture.pts = 0
    return b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])


def _decoder(codec: str) -> av.VideoCodecContext:
    decoder = av.VideoCodecContext.create(codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    return decoder


def _write_atomically(target: Path, data: bytes) -> None:
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    with partial.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(target)


class _ClipWriter:
    """Writes one clip (in the demuxer thread) and finishes it (in a worker thread)."""

    def __init__(
        self,
        doorbell_id: str,
        request: _Request,
        target: Path,
        *,
        video: av.VideoStream,
        audio: av.AudioStream | None,
        transcode: bool,
    ) -> None:
        """Open the temporary MP4 next to `target`, with streams like the source's."""
        self.doorbell_id = doorbell_id
        self.request = request
        self.target = target
        self.partial = target.with_name(target.name + PARTIAL_SUFFIX)
        self._transcode = transcode
        self._container = av.open(
            str(self.partial), "w", format="mp4", container_options={"movflags": "+faststart"}
        )
        self._out: dict[int, av.stream.Stream] = {}
        self._offsets: dict[int, int] = {}
        self._origin: Fraction | None = None  # device seconds of the first keyframe's dts
        self._video_index = video.index
        self._decoder: av.VideoCodecContext | None = None
        self._encoder: av.VideoStream | None = None
        self._last_pts = -1
        if transcode:
            self._decoder = _decoder(video.codec_context.name)
        else:
            self._out[video.index] = self._container.add_stream_from_template(video)
            if audio is not None:
                self._out[audio.index] = self._container.add_stream_from_template(audio)
        self._codec = video.codec_context.name
        self._extradata = video.codec_context.extradata
        self.has_audio = audio is not None and not transcode
        self.first: float | None = None
        self.last: float | None = None
        # For the thumbnail: the packets from the keyframe before the trigger to the first
        # frame at or after it (copied: the ring's packets are reused by the next clip).
        self._thumb: list[tuple[bytes, float]] = []
        self._thumb_done = False

    def add(self, entry: _Entry) -> None:
        """Write one packet (demuxer thread)."""
        if entry.video:
            self._collect_thumbnail(entry)
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
        self.last = when

    def _add_transcoded(self, entry: _Entry) -> None:
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
            picture = frame.reformat(format="yuv420p")
            self._last_pts = max(self._last_pts + 1, round((entry.time - self.first) * 1000))
            picture.pts, picture.time_base = self._last_pts, TRANSCODE_TIME_BASE
            self._container.mux(self._encoder.encode(picture))
            self._mark(entry.time)

    def _collect_thumbnail(self, entry: _Entry) -> None:
        if self._thumb_done:
            return
        if entry.key and entry.time <= self.request.trigger_time:
            self._thumb.clear()
        self._thumb.append((bytes(entry.packet), entry.time))
        if self._transcode:
            self._thumb = [min(self._thumb, key=self._distance)]
        self._thumb_done = entry.time >= self.request.trigger_time

    def _distance(self, item: tuple[bytes, float]) -> float:
        return abs(item[1] - self.request.trigger_time)

    def abort(self) -> None:
        """Give up on the clip and remove its temporary file."""
        with contextlib.suppress(av.FFmpegError, OSError):
            self._container.close()
        self.partial.unlink(missing_ok=True)

    def finish(self) -> Clip | None:
        """Close, check and move the clip into place (worker thread). None if nothing usable."""
        try:
            if self._encoder is not None:
                self._container.mux(self._encoder.encode(None))
            self._container.close()
        except av.FFmpegError:
            _LOGGER.exception("Could not finish a clip", extra={"doorbell_id": self.doorbell_id})
            self.abort()
            return None
        if self.first is None or self.last is None:
            self.partial.unlink(missing_ok=True)
            return None
        with self.partial.open("rb") as file:
            os.fsync(file.fileno())
            digest = hashlib.file_digest(file, "sha256").hexdigest()
        size = self.partial.stat().st_size
        thumbnail = self._thumbnail()
        if thumbnail is not None:
            _write_atomically(self.target.with_suffix(".jpg"), thumbnail)
        self.partial.replace(self.target)
        folder = os.open(self.target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
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

    def _thumbnail(self) -> bytes | None:
        """The JPEG of the decoded frame nearest the trigger."""
        if not self._thumb:
            return None
        if self._transcode:
            return self._thumb[0][0]
        try:
            decoder = _decoder(self._codec)
            if self._extradata:
                decoder.extradata = self._extradata
            frames: list[av.VideoFrame] = []
            for data, _ in self._thumb:
                frames.extend(decoder.decode(av.Packet(data)))
            frames.extend(decoder.decode(None))
            # The decoder puts out frames in presentation order, one per packet.
            ordered = sorted(self._thumb, key=lambda item: item[1])
            nearest = ordered.index(min(ordered, key=self._distance))
            return _jpeg(frames[min(nearest, len(frames) - 1)]) if frames else None
        except (av.FFmpegError, ValueError):
            _LOGGER.warning("No thumbnail for a clip", extra={"doorbell_id": self.doorbell_id})
            return None


class DoorbellStream:
    """The live video of one doorbell: reconnects with back-off, buffers, writes clips."""

    def __init__(
        self,
        doorbell_id: str,
        source: VideoSource,
        *,
        audio: bool,
        config: RecordingConfig,
        library: ClipLibrary,
        executor: ThreadPoolExecutor,
        finished: Callable[[_ClipWriter], None],
    ) -> None:
        """Prepare; `start` connects. `finished(writer)` is called on the loop per clip."""
        self.doorbell_id = doorbell_id
        self.source = source
        self.audio = audio
        self._config = config
        self._library = library
        self._executor = executor
        self._finished = finished
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._gops: deque[list[_Entry]] = deque()
        self._latest: tuple[float, float] | None = None  # newest frame time, monotonic arrival
        self._device_clock = False
        self._pending: _Request | None = None
        self._writer: _ClipWriter | None = None
        self._abort = False
        self._task: asyncio.Task[None] | None = None
        self._thread: Future[None] | None = None
        self._connection: http.client.HTTPConnection | None = None
        self._stopping = False
        self._viewers: set[asyncio.Queue[bytes | None]] = set()
        self.content_type: str | None = None
        """The content type of the stream being read (None while not connected)."""

    def start(self) -> None:
        """Start reading the stream (and keep doing so until `stop`)."""
        self._task = asyncio.create_task(self._run(), name=f"video {self.doorbell_id}")

    async def stop(self, *, abort: bool = False) -> None:
        """Stop reading. The clip being written is finished, or discarded if `abort`."""
        with self._lock:
            self._abort = abort
            self._stopping = True
            connection = self._connection
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if connection is not None and self._thread is not None:
            # Ending the connection ends the thread's reads; wait for it to hand over its clip.
            # (A thread still connecting finds `_stopping` set and returns on its own.)
            # (A connection still being set up has no socket yet; its thread sees `_stopping`.)
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            await asyncio.gather(asyncio.wrap_future(self._thread), return_exceptions=True)

    # Live viewers (event loop): devices serve few streams, so viewers share the recorder's.
    def watch(self) -> asyncio.Queue[bytes | None] | None:
        """Share the MJPEG stream being read: its body from now on, chunk by chunk (None when
        it ends or the viewer falls behind). None if no MJPEG stream is being read (a viewer
        cannot join an H.264 stream in mid-flight)."""
        if self.content_type is None or not is_mjpeg(self.content_type):
            return None
        viewer: asyncio.Queue[bytes | None] = asyncio.Queue(VIEWER_QUEUE_SIZE)
        self._viewers.add(viewer)
        return viewer

    def unwatch(self, viewer: asyncio.Queue[bytes | None]) -> None:
        """The viewer is gone."""
        self._viewers.discard(viewer)

    def _tap(self, data: bytes) -> None:  # stream thread
        if self._viewers:
            self._loop.call_soon_threadsafe(self._fan_out, data)

    def _fan_out(self, data: bytes | None) -> None:
        for viewer in list(self._viewers):
            if data is None or viewer.full():
                self._viewers.discard(viewer)
                while viewer.full():
                    viewer.get_nowait()
                viewer.put_nowait(None)
            else:
                viewer.put_nowait(data)

    @property
    def buffered_seconds(self) -> float:
        """How much video the pre-roll buffer holds now (0 while not streaming)."""
        with self._lock:
            if self._latest is None or not self._gops:
                return 0.0
            return self._latest[0] - self._gops[0][0].time

    # Triggers (event loop)
    def trigger(
        self,
        trigger: ClipTrigger,
        seq: int | None,
        device_time: float | None,
        post_roll: float,
    ) -> _Request | None:
        """Start a clip, or extend the one being written. None if the stream is not ready or the
        whole clip would lie before the buffered video."""
        with self._lock:
            if self._latest is None or not self._gops:
                return None
            now = self._latest[0] + (time.monotonic() - self._latest[1])
            when = now
            if device_time is not None and self._device_clock:
                when = min(device_time, now + CLOCK_TOLERANCE)
            if when + post_roll < self._gops[0][0].time:
                return None
            active = self._writer.request if self._writer is not None else self._pending
            if active is not None:
                active.end = max(active.end, when + post_roll)
                return active
            self._pending = _Request(
                trigger, seq, when, when - self._config.pre_roll_seconds, when + post_roll
            )
            return self._pending

    # Connection (event loop)
    async def _run(self) -> None:
        delay = BACKOFF_START
        while True:
            started = time.monotonic()
            self._thread = self._executor.submit(self._stream_once)
            try:
                await asyncio.wrap_future(self._thread)
                reason = "the device ended the stream"
            except (OSError, http.client.HTTPException, VideoStreamError, av.FFmpegError) as err:
                reason = str(err) or repr(err)
            except Exception as err:
                # A video source must never take the recorder (let alone the hub) down.
                _LOGGER.exception("Unexpected failure reading a video stream")
                reason = repr(err)
            finally:
                self.content_type = None
                self._fan_out(None)
            if time.monotonic() - started > STABLE_SECONDS:
                delay = BACKOFF_START
            _LOGGER.info(
                "Video stream interrupted",
                extra={"doorbell_id": self.doorbell_id, "reason": reason, "retry_in": delay},
            )
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
            delay = min(delay * 2, BACKOFF_MAX)

    # Reading (stream thread): blocking HTTP and demuxing in one thread, no hop per chunk.
    def _stream_once(self) -> None:
        url = urlsplit(self.source.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise VideoStreamError(f"unsupported video URL scheme {url.scheme!r}")
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = kind(url.hostname, url.port, timeout=CONNECT_TIMEOUT)
        try:
            connection.connect()
            with self._lock:
                if self._stopping:
                    return
                self._connection = connection
            assert connection.sock is not None
            connection.sock.settimeout(READ_TIMEOUT)
            target = url.path + (f"?{url.query}" if url.query else "")
            connection.request("GET", target or "/", headers=dict(self.source.headers))
            response = connection.getresponse()
            if response.status != 200:
                raise VideoStreamError(self.source.refusal(response.status))
            content_type = response.getheader("Content-Type") or self.source.content_type
            self.content_type = content_type
            transcode = is_mjpeg(content_type)
            epoch: float | None = None
            with contextlib.suppress(TypeError, ValueError):
                epoch = float(response.getheader(EPOCH_HEADER))  # type: ignore[arg-type]
            fmt = "mpjpeg" if transcode else ("mpegts" if "mp2t" in content_type else None)
            self._demux(_Body(response, self._tap), fmt, epoch, transcode)
        finally:
            with self._lock:
                self._connection = None
            connection.close()

    # Demuxing and writing (demuxer thread)
    def _demux(self, body: _Body, fmt: str | None, epoch: float | None, transcode: bool) -> None:
        try:
            with av.open(body, "r", format=fmt, options=PROBE_OPTIONS) as container:
                if not container.streams.video:
                    raise VideoStreamError("the stream has no video")
                video = container.streams.video[0]
                audio = None
                if self.audio and not transcode:
                    audio = next(
                        (
                            s
                            for s in container.streams.audio
                            if s.codec_context.name in MP4_AUDIO_CODECS
                        ),
                        None,
                    )
                wanted: list[av.stream.Stream] = [video] if audio is None else [video, audio]
                self._device_clock = epoch is not None
                base = epoch
                time_bases = {s.index: Fraction(str(s.time_base or "1/90000")) for s in wanted}
                seconds_per_tick = {index: float(tb) for index, tb in time_bases.items()}
                for packet in container.demux(wanted):
                    if packet.size == 0:
                        continue
                    stamp = packet.pts if packet.pts is not None else packet.dts
                    time_base = time_bases[packet.stream_index]
                    if stamp is None:
                        when = time.time()
                    else:
                        seconds = stamp * seconds_per_tick[packet.stream_index]
                        if base is None:
                            base = time.time() - seconds
                        when = base + seconds
                    entry = _Entry(
                        packet,
                        when,
                        packet.pts,
                        packet.dts,
                        time_base,
                        packet.stream_index == video.index,
                        packet.is_keyframe,
                    )
                    self._add(entry, video, audio, transcode)
        finally:
            self._ended()

    def _add(
        self, entry: _Entry, video: av.VideoStream, audio: av.AudioStream | None, transcode: bool
    ) -> None:
        with self._lock:
            if entry.video and entry.key:
                self._gops.append([entry])
                horizon = entry.time - self._config.pre_roll_seconds
                while len(self._gops) > 1 and self._gops[1][0].time <= horizon:
                    self._gops.popleft()
            elif self._gops:
                self._gops[-1].append(entry)
            else:
                return  # wait for the first keyframe
            if entry.video:
                self._latest = (entry.time, time.monotonic())
            request, backlog = None, []
            if self._writer is None and self._pending is not None:
                # It stays pending (and extendable) until the writer is in place.
                request = self._pending
                backlog = self._backlog(request.start)
            writer = self._writer
            done = writer is not None and entry.video and entry.time > writer.request.end
            if done:
                self._writer = None
        if request is not None:
            self._open(request, backlog, video, audio, transcode)
        elif writer is not None and done:
            self._hand_off(writer)
        elif writer is not None:
            self._write(writer, entry)

    def _backlog(self, start: float) -> list[_Entry]:
        """The buffered packets from the last keyframe at or before `start` (or the oldest)."""
        chosen = 0
        for index, gop in enumerate(self._gops):
            if gop[0].time <= start:
                chosen = index
        return [entry for gop in list(self._gops)[chosen:] for entry in gop]

    def _open(
        self,
        request: _Request,
        backlog: list[_Entry],
        video: av.VideoStream,
        audio: av.AudioStream | None,
        transcode: bool,
    ) -> None:
        name = self._library.new_file_name(self.doorbell_id, backlog[0].time)
        writer: _ClipWriter | None = None
        try:
            writer = _ClipWriter(
                self.doorbell_id,
                request,
                self._library.path(name),
                video=video,
                audio=audio,
                transcode=transcode,
            )
        except (av.FFmpegError, ValueError, OSError):
            _LOGGER.exception("Could not start a clip", extra={"doorbell_id": self.doorbell_id})
        else:
            writer = self._catch_up(writer, backlog)
        with self._lock:
            self._pending = None
            self._writer = writer

    def _catch_up(self, writer: _ClipWriter, backlog: list[_Entry]) -> _ClipWriter | None:
        """Write the buffered packets; the writer if the clip goes on, None if it is done."""
        for entry in backlog:
            with self._lock:
                past_end = entry.video and entry.time > writer.request.end
            if past_end:
                self._hand_off(writer)
                return None
            if not self._write(writer, entry):
                return None
        return writer

    def _write(self, writer: _ClipWriter, entry: _Entry) -> bool:
        try:
            writer.add(entry)
        except (av.FFmpegError, ValueError, OSError):
            _LOGGER.exception("Could not write a clip", extra={"doorbell_id": self.doorbell_id})
            with self._lock:
                if self._writer is writer:
                    self._writer = None
            writer.abort()
            return False
        return True

    def _hand_off(self, writer: _ClipWriter) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is gone: the hub is exiting
            self._loop.call_soon_threadsafe(self._finished, writer)

    def _ended(self) -> None:
        """The stream ended: finish (or discard) the clip; the buffer goes with the stream."""
        with self._lock:
            writer, self._writer = self._writer, None
            last = self._latest[0] if self._latest else None
            self._gops.clear()
            self._latest = None
            if writer is not None and not self._abort and last is not None:
                # The rest of the clip comes from the next connection, without pre-roll.
                request = writer.request
                if request.end > last and self._pending is None:
                    self._pending = _Request(
                        request.trigger, request.seq, request.trigger_time, last, request.end
                    )
            if self._abort:
                self._pending = None
        if writer is None:
            return
        if self._abort:
            writer.abort()
        else:
            self._hand_off(writer)


class Recorder:
    """Records clips for every doorbell that should be recorded; follows the doorbell manager."""

    def __init__(
        self,
        config: RecordingConfig,
        library: ClipLibrary,
        doorbells: DoorbellManager,
    ) -> None:
        """Wire the recorder; register it with `doorbells.add_listener` and call `start`."""
        self.config = config
        self.library = library
        self._doorbells = doorbells
        self.streams: dict[str, DoorbellStream] = {}
        self._executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="doorward-video")
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False

    async def start(self) -> None:
        """Clean up after a crash and start enforcing retention."""
        await self.library.start()

    async def stop(self) -> None:
        """Stop every stream, finish the clips being written, stop retention."""
        self._closing = True
        streams, self.streams = list(self.streams.values()), {}
        await asyncio.gather(*(stream.stop() for stream in streams))
        while self._background:
            await asyncio.wait(set(self._background))
        await self.library.stop()
        self._executor.shutdown(wait=False)

    # DoorbellListener
    def doorbell_changed(self, doorbell: Doorbell) -> None:
        """Start, restart or stop the doorbell's stream to match its state and settings."""
        if self._closing:
            return
        source = self._source(doorbell)
        stream = self.streams.get(doorbell.id)
        if stream is not None and (stream.source, stream.audio) == (source, doorbell.record_audio):
            return
        if stream is not None:
            del self.streams[doorbell.id]
            self._track(stream.stop(abort=doorbell.privacy_mode))
        if source is not None:
            stream = DoorbellStream(
                doorbell.id,
                source,
                audio=doorbell.record_audio,
                config=self.config,
                library=self.library,
                executor=self._executor,
                finished=self._finished,
            )
            self.streams[doorbell.id] = stream
            stream.start()

    def doorbell_removed(self, doorbell_id: str) -> None:
        """Stop recording a forgotten doorbell (its clips stay until retention removes them)."""
        stream = self.streams.pop(doorbell_id, None)
        if stream is not None:
            self._track(stream.stop())

    def event_recorded(self, doorbell: Doorbell, event: Event, device_time: float | None) -> None:
        """A press or motion start (new or merged into an earlier press) triggers a clip."""
        trigger = _TRIGGERS.get(event.type)
        stream = self.streams.get(doorbell.id)
        if trigger is None or stream is None or doorbell.privacy_mode:
            return
        request = stream.trigger(trigger, event.seq, device_time, self.config.post_roll_seconds)
        if request is None:
            _LOGGER.info(
                "No video to record for an event",
                extra={"doorbell_id": doorbell.id, "seq": event.seq},
            )

    # Manual recording
    def record(self, doorbell_id: str, duration: float) -> tuple[float, float]:
        """Record from now (plus pre-roll) for `duration` seconds; (start, end) planned."""
        doorbell = self._doorbells.get(doorbell_id)
        stream = self.streams.get(doorbell_id)
        if not self.config.enabled:
            raise DoorbellUnavailable("recording is disabled on this hub")
        if doorbell.privacy_mode:
            raise DoorbellUnavailable("doorbell is in privacy mode")
        request = None
        if stream is not None:
            request = stream.trigger(ClipTrigger.MANUAL, None, None, duration)
        if request is None:
            raise DoorbellUnavailable("no live video from the doorbell right now")
        return request.start, request.end

    def _source(self, doorbell: Doorbell) -> VideoSource | None:
        if not (
            self.config.enabled
            and doorbell.approved
            and doorbell.status is DoorbellStatus.ONLINE
            and not doorbell.privacy_mode
        ):
            return None
        try:
            return self._doorbells.video_source(doorbell.id)
        except DoorbellUnavailable:
            return None

    def _finished(self, writer: _ClipWriter) -> None:
        self._track(self._store(writer))

    async def _store(self, writer: _ClipWriter) -> None:
        clip = await asyncio.to_thread(writer.finish)
        if clip is not None:
            await self.library.add(clip)

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
