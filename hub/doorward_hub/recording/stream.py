"""The live video of one doorbell: a pre-roll ring buffer of encoded packets, and clips.

For every doorbell that is online, has video and is not in privacy mode, a thread reads the live
stream over HTTP and demuxes it (PyAV), with no hop to the event loop per chunk. It keeps the last
`pre_roll_seconds` of packets as whole GOPs and writes the clip a trigger asked for: from the
keyframe at or before trigger - pre-roll until post-roll after the last trigger (a trigger while
a clip is being written extends it), through a `ClipWriter`.

Times are on the doorbell's clock when the stream says how its timestamps map to it (the
`X-Doorward-Epoch` header), otherwise on the hub's clock at arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from fractions import Fraction
from urllib.parse import urlsplit

import av

from doorward_hub.config import RecordingConfig
from doorward_hub.core.backoff import Backoff
from doorward_hub.devices.drivers.base import VideoSource
from doorward_hub.models import ClipTrigger
from doorward_hub.recording.library import ClipLibrary
from doorward_hub.recording.stream_body import StreamBody, VideoStreamError
from doorward_hub.recording.writer import BufferedPacket, ClipRequest, ClipWriter

_LOGGER = logging.getLogger(__name__)

EPOCH_HEADER = "X-Doorward-Epoch"
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
STABLE_SECONDS = 30.0
"""A stream that ran this long before it ended is retried after the shortest back-off."""
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
CLOCK_TOLERANCE = 5.0
"""Seconds an event's device time may lie ahead of the newest frame (the video lags behind)."""
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "opus"})
PROBE_OPTIONS = {"probesize": "1000000", "analyzeduration": "1000000"}
PROBE_KEYFRAMES_OPTIONS = {**PROBE_OPTIONS, "skip_frame": "nonkey"}
"""Opening a stream probes it, and FFmpeg decodes H.264 frames to do so (seven, to guess the
decoding delay): 10 doorbells at 1080p starting together took 60 MB more for it, and the hub
never decodes an H.264 stream (it copies packets). Keyframes alone give the picture's
parameters. Audio frames, and MJPEG frames (no packet of theirs is marked a keyframe), must be
decoded to be described: a doorbell whose audio is recorded, or that sends MJPEG, is probed in
full."""
VIEWER_QUEUE_SIZE = 256
"""Body chunks a live viewer of a shared stream may fall behind before it is dropped."""


def is_mjpeg(content_type: str) -> bool:
    """True for the content types of MJPEG streams (multipart JPEG over HTTP)."""
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    return kind.startswith("multipart/") or "jpeg" in kind


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
        finished: Callable[[ClipWriter], None],
    ) -> None:
        """Prepare; `start` connects. `finished(writer)` is called on the loop per clip."""
        self.doorbell_id = doorbell_id
        self.source = source
        self.audio = audio
        self._config = config
        self._library = library
        self._finished = finished
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._gops: deque[list[BufferedPacket]] = deque()
        self._latest: tuple[float, float] | None = None  # newest frame time, monotonic arrival
        self._device_clock = False
        self._pending: ClipRequest | None = None
        self._writer: ClipWriter | None = None
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
    ) -> ClipRequest | None:
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
            self._pending = ClipRequest(
                trigger, seq, when, when - self._config.pre_roll_seconds, when + post_roll
            )
            return self._pending

    # Connection (event loop)
    async def _run(self) -> None:
        backoff = Backoff(BACKOFF_START, BACKOFF_MAX)
        while True:
            started = time.monotonic()
            self._thread = self._read_in_own_thread()
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
                backoff.reset()
            _LOGGER.info(
                "Video stream interrupted",
                extra={
                    "doorbell_id": self.doorbell_id,
                    "reason": reason,
                    "retry_in": backoff.delay,
                },
            )
            await backoff.wait()

    # Reading (stream thread): blocking HTTP and demuxing in one thread, no hop per chunk.
    def _read_in_own_thread(self) -> Future[None]:
        """Run `_stream_once` in a thread of its own (a pool would cap the doorbells recorded
        at its size: the rest would wait for a thread and record nothing)."""
        future: Future[None] = Future()

        def read() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                self._stream_once()
            except BaseException as err:  # handed to `_run`, which says what ended the stream
                future.set_exception(err)
            else:
                future.set_result(None)

        name = f"doorward-video-{self.doorbell_id}"
        threading.Thread(target=read, name=name, daemon=True).start()
        return future

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
            body = StreamBody(response, self._tap, lambda: bool(self._viewers))
            self._demux(body, fmt, epoch, transcode)
        finally:
            with self._lock:
                self._connection = None
            connection.close()

    # Demuxing and writing (demuxer thread)
    def _demux(
        self, body: StreamBody, fmt: str | None, epoch: float | None, transcode: bool
    ) -> None:
        try:
            options = PROBE_OPTIONS if self.audio or transcode else PROBE_KEYFRAMES_OPTIONS
            with av.open(body, "r", format=fmt, options=options) as container:
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
                    entry = BufferedPacket(
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
        self,
        entry: BufferedPacket,
        video: av.VideoStream,
        audio: av.AudioStream | None,
        transcode: bool,
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

    def _backlog(self, start: float) -> list[BufferedPacket]:
        """The buffered packets from the last keyframe at or before `start` (or the oldest)."""
        chosen = 0
        for index, gop in enumerate(self._gops):
            if gop[0].time <= start:
                chosen = index
        return [entry for gop in list(self._gops)[chosen:] for entry in gop]

    def _open(
        self,
        request: ClipRequest,
        backlog: list[BufferedPacket],
        video: av.VideoStream,
        audio: av.AudioStream | None,
        transcode: bool,
    ) -> None:
        name = self._library.new_file_name(self.doorbell_id, backlog[0].time)
        writer: ClipWriter | None = None
        try:
            writer = ClipWriter(
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

    def _catch_up(self, writer: ClipWriter, backlog: list[BufferedPacket]) -> ClipWriter | None:
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

    def _write(self, writer: ClipWriter, entry: BufferedPacket) -> bool:
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

    def _hand_off(self, writer: ClipWriter) -> None:
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
                    self._pending = ClipRequest(
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
