"""The simulated doorbell's camera: a synthetic live picture, H.264 in MPEG-TS, JPEG snapshots,
and optionally a microphone: a 440 Hz tone as AAC in the same stream.

The picture is a background made once (colour bars with the doorbell's label) plus, per frame, the
device wall clock in big 7-segment digits and a bar that moves across the picture. Frames are
encoded only while someone watches: the first viewer starts an encoder thread, the last one to
leave stops it. Every viewer gets its own MPEG-TS muxer fed with the shared encoded packets,
starting at the next keyframe. PyAV calls block, so they run in that thread or in an executor.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from typing import Self

import av
import av.logging
from av.video.frame import PictureType
from av.video.reformatter import ColorRange

from .footage import Footage

# PyAV's bridge from FFmpeg's log callback into Python logging has deadlocked encoder threads:
# keep FFmpeg's own logging off (this is also PyAV's default).
av.logging.set_level(None)

_LOGGER = logging.getLogger(__name__)

PTS_CLOCK = 90_000
"""MPEG-TS timestamps count this many ticks per second."""
KEYFRAME_INTERVAL = 1.0
"""Seconds of device time between keyframes."""
MAX_BACKLOG = 5.0
"""Seconds of stream a slow viewer may fall behind before it is dropped."""
AUDIO_RATE = 48_000
"""Samples per second of the microphone's tone."""
TONE = 440.0
"""The microphone hears a tone of this frequency (Hz)."""

Box = tuple[int, int, int, int]
"""A rectangle in the picture: x, y, width, height (pixels)."""

_TIME_BASE = Fraction(1, PTS_CLOCK)
_BLACK, _WHITE, _NEUTRAL = 16, 235, 128
# 75 % colour bars (white, yellow, cyan, green, magenta, red, blue) as BT.601 (Y, U, V).
_BARS = (
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
)
_BAR_PERIOD = 2.0  # seconds for the moving bar to cross the picture
_MIN_WIDTH, _MIN_HEIGHT, _MAX_SIDE = 128, 96, 4096

# Clock digits: 7 segments on a grid of units, a digit is 4 units wide and 7 high.
_SEGMENTS: dict[str, Box] = {
    "a": (0, 0, 4, 1),
    "b": (3, 0, 1, 4),
    "c": (3, 3, 1, 4),
    "d": (0, 6, 4, 1),
    "e": (0, 3, 1, 4),
    "f": (0, 0, 1, 4),
    "g": (0, 3, 4, 1),
}
_DIGIT_SEGMENTS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
}
_CLOCK_GLYPHS: dict[str, tuple[Box, ...]] = {
    digit: tuple(_SEGMENTS[s] for s in segments) for digit, segments in _DIGIT_SEGMENTS.items()
}
_CLOCK_GLYPHS[":"] = ((0, 2, 1, 1), (0, 4, 1, 1))
_CLOCK_GLYPHS["."] = ((0, 6, 1, 1),)
_CLOCK_TEMPLATE = "00:00:00.000"
_CLOCK_UNITS = sum(4 if c.isdigit() else 1 for c in _CLOCK_TEMPLATE) + len(_CLOCK_TEMPLATE) + 1

# Label font: 5x7 pixels per glyph, one string of five bits per row.
_FONT_ROWS = {
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11110 10001 10001 10001 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100",
    "Z": "11111 00001 00010 00100 01000 10000 11111",
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    "?": "01110 10001 00001 00010 00100 00000 00100",
    " ": "00000 00000 00000 00000 00000 00000 00000",
}


def clock_text(device_time: float) -> str:
    """The device wall clock as the picture shows it: local time ``HH:MM:SS.mmm``."""
    seconds, millis = divmod(round(device_time * 1000), 1000)
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{millis:03d}"


def _fill(plane: bytearray, stride: int, box: Box, value: int) -> None:
    x, y, width, height = box
    row = bytes((value,)) * width
    for start in range(y * stride + x, (y + height) * stride + x, stride):
        plane[start : start + width] = row


class Picture:
    """The synthetic picture of one doorbell, rendered for any device time.

    `luma` and the layout boxes are public so that a test can compare a decoded frame's clock
    with the clock rendered afresh for that frame's device time.
    """

    def __init__(self, label: str, width: int, height: int) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"picture size must be even, got {width}x{height}")
        if not (_MIN_WIDTH <= width <= _MAX_SIDE and _MIN_HEIGHT <= height <= _MAX_SIDE):
            raise ValueError(
                f"picture size must be between {_MIN_WIDTH}x{_MIN_HEIGHT} and "
                f"{_MAX_SIDE}x{_MAX_SIDE}, got {width}x{height}"
            )
        self.width = width
        self.height = height
        probe = av.VideoFrame(width, height, "yuv420p")
        self._strides = tuple(plane.line_size for plane in probe.planes)
        self._rows = tuple(plane.height for plane in probe.planes)
        self.unit = max(1, min((width - 16) // _CLOCK_UNITS, height // 24))
        unit = self.unit
        margin = max(2, unit)
        clock_width, clock_height = _CLOCK_UNITS * unit, 9 * unit
        self.clock_box: Box = (
            (width - clock_width) // 2,
            height - margin - clock_height,
            clock_width,
            clock_height,
        )
        self.clock_cells: list[Box] = []
        x = self.clock_box[0] + unit
        for char in _CLOCK_TEMPLATE:
            cell_width = (4 if char.isdigit() else 1) * unit
            self.clock_cells.append((x, self.clock_box[1] + unit, cell_width, 7 * unit))
            x += cell_width + unit
        scale = max(1, unit // 2)
        self._font_scale = scale
        fitting = (width - 2 * margin - scale) // (6 * scale)
        self.label = label.upper()[:fitting]
        self.label_box: Box = (margin, margin, 6 * scale * len(self.label) + scale, 9 * scale)
        bar_top = self.label_box[1] + self.label_box[3] + margin
        self._bar_band = (bar_top, self.clock_box[1] - margin - bar_top)
        self._bar_width = max(2, width // 40)
        self._luma, self._chroma_u, self._chroma_v = self._background()

    def _background(self) -> tuple[bytes, bytes, bytes]:
        planes = [
            bytearray(stride * rows) for stride, rows in zip(self._strides, self._rows, strict=True)
        ]
        bar_width = -(-self.width // len(_BARS))
        for index, colour in enumerate(_BARS):
            for plane_index, (plane, value) in enumerate(zip(planes, colour, strict=True)):
                sub = 1 if plane_index == 0 else 2
                x, height = index * bar_width // sub, self.height // sub
                box_width = min(bar_width // sub, self.width // sub - x)
                _fill(plane, self._strides[plane_index], (x, 0, box_width, height), value)
        for box in (self.label_box, self.clock_box):
            _fill(planes[0], self._strides[0], box, _BLACK)
            x, y, w, h = box
            chroma_box = (x // 2, y // 2, (x + w + 1) // 2 - x // 2, (y + h + 1) // 2 - y // 2)
            _fill(planes[1], self._strides[1], chroma_box, _NEUTRAL)
            _fill(planes[2], self._strides[2], chroma_box, _NEUTRAL)
        self._draw_label(planes[0])
        return bytes(planes[0]), bytes(planes[1]), bytes(planes[2])

    def _draw_label(self, luma: bytearray) -> None:
        scale = self._font_scale
        x0, y0 = self.label_box[0] + scale, self.label_box[1] + scale
        for index, char in enumerate(self.label):
            rows = _FONT_ROWS.get(char, _FONT_ROWS["?"]).split()
            for row, bits in enumerate(rows):
                for column, bit in enumerate(bits):
                    if bit == "1":
                        x = x0 + (index * 6 + column) * scale
                        box = (x, y0 + row * scale, scale, scale)
                        _fill(luma, self._strides[0], box, _WHITE)

    def luma(self, device_time: float) -> bytearray:
        """The Y plane (stride `luma_stride`) of the picture at `device_time` (Unix seconds)."""
        plane = bytearray(self._luma)
        stride, unit = self._strides[0], self.unit
        for char, (x, y, _, _) in zip(clock_text(device_time), self.clock_cells, strict=True):
            for sx, sy, sw, sh in _CLOCK_GLYPHS[char]:
                _fill(plane, stride, (x + sx * unit, y + sy * unit, sw * unit, sh * unit), _WHITE)
        band_top, band_height = self._bar_band
        travel = self.width - self._bar_width
        bar_x = int((device_time % _BAR_PERIOD) / _BAR_PERIOD * travel)
        _fill(plane, stride, (bar_x, band_top, self._bar_width, band_height), _WHITE)
        return plane

    @property
    def luma_stride(self) -> int:
        """Bytes per row of the planes `luma` returns."""
        return self._strides[0]

    def frame(self, device_time: float) -> av.VideoFrame:
        """A yuv420p frame of the picture at `device_time`."""
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(bytes(self.luma(device_time)))
        frame.planes[1].update(self._chroma_u)
        frame.planes[2].update(self._chroma_v)
        return frame

    def jpeg(self, device_time: float) -> bytes:
        """A baseline JPEG of the picture at `device_time` (blocking: call it in an executor)."""
        encoder = av.VideoCodecContext.create("mjpeg", "w")
        encoder.width, encoder.height = self.width, self.height
        encoder.pix_fmt = "yuvj420p"
        encoder.sample_aspect_ratio = Fraction(1, 1)  # makes FFmpeg write the JFIF header
        encoder.time_base = Fraction(1, 1)
        frame = self.frame(device_time).reformat(
            format="yuvj420p", src_color_range=ColorRange.MPEG, dst_color_range=ColorRange.JPEG
        )
        frame.pts = 0
        packets = [*encoder.encode(frame), *encoder.encode(None)]
        return b"".join(bytes(packet) for packet in packets)


class _Sink:
    """A write-only file for PyAV that collects what the muxer writes."""

    def __init__(self) -> None:
        self._data = bytearray()

    def write(self, data: bytes) -> int:
        self._data += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._data)
        self._data.clear()
        return data


class Viewer:
    """One client of the live stream: an async iterator of MPEG-TS chunks.

    The stream starts at a keyframe; ``epoch`` is the device time of PTS 0. Iteration ends when
    the device stops, the viewer falls too far behind, or `close` is called.
    """

    def __init__(self, epoch: float, fps: float, leave: Callable[[Viewer], None]) -> None:
        self.epoch = epoch
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._backlog_limit = max(2, math.ceil(MAX_BACKLOG * fps))
        self._leave = leave
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._chunks.get()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        """Leave the stream; the encoder stops when its last viewer leaves."""
        if not self._closed:
            self._closed = True
            self._chunks.put_nowait(b"")
            self._leave(self)

    def _deliver(self, chunk: bytes) -> None:
        if self._closed:
            return
        if self._chunks.qsize() >= self._backlog_limit:
            _LOGGER.warning("dropping a video viewer that fell %.0f s behind", MAX_BACKLOG)
            self.close()
        else:
            self._chunks.put_nowait(chunk)


class _Encoder:
    """One encoder thread: renders and encodes frames in real time, muxes them per viewer."""

    def __init__(
        self, picture: Picture, fps: float, audio: bool, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.epoch = round(time.time(), 3)
        self._started = time.monotonic()  # frames are paced on the monotonic clock
        self._picture = picture
        self._fps = fps
        self._loop = loop
        self._lock = threading.Lock()
        self._viewers: list[Viewer] = []
        self._departed: list[Viewer] = []
        self._muxers: dict[Viewer, tuple[av.container.OutputContainer, _Sink]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="doorward-sim-video", daemon=True)
        self._host: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._audio: av.AudioStream | None = None
        self._with_audio = audio
        self._samples = 0  # audio samples encoded so far

    def open(self) -> None:
        """Open the H.264 (and AAC) encoders (blocking); they live in a container that only
        lends them out."""
        host = av.open(_Sink(), "w", format="mpegts")
        try:
            stream = host.add_stream(
                "libx264",
                rate=Fraction(self._fps).limit_denominator(1001),
                options={
                    "preset": "ultrafast",
                    "tune": "zerolatency",
                    "profile": "baseline",
                    "forced-idr": "1",
                    "threads": "1",
                },
            )
            stream.width, stream.height, stream.pix_fmt = (
                self._picture.width,
                self._picture.height,
                "yuv420p",
            )
            stream.time_base = _TIME_BASE
            stream.codec_context.time_base = _TIME_BASE
            stream.codec_context.open()
            if self._with_audio:
                audio = host.add_stream("aac", rate=AUDIO_RATE, layout="mono")
                audio.time_base = Fraction(1, AUDIO_RATE)
                audio.codec_context.open()
                self._audio = audio
        except BaseException:
            host.close()
            raise
        self._host, self._stream = host, stream

    def start(self) -> None:
        """Start encoding in the thread (after `open`)."""
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True until the thread has ended."""
        return self._thread.is_alive()

    def add(self, viewer: Viewer) -> bool:
        """Feed `viewer` from the next keyframe on; False if the encoder is stopping."""
        with self._lock:
            if self._stop.is_set():
                return False
            self._viewers.append(viewer)
            return True

    def remove(self, viewer: Viewer) -> bool:
        """Stop feeding `viewer`; True if no viewer is left (the thread then stops)."""
        with self._lock:
            if viewer in self._viewers:
                self._viewers.remove(viewer)
                self._departed.append(viewer)
            if not self._viewers:
                self._stop.set()
            return not self._viewers

    def stop(self) -> None:
        """Ask the thread to stop."""
        self._stop.set()

    def join(self) -> None:
        """Wait for the thread to end (blocking)."""
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            self._encode_until_stopped()
        except Exception:
            _LOGGER.exception("the simulated video encoder failed")
        finally:
            self._close_all()

    def _encode_until_stopped(self) -> None:
        assert self._stream is not None
        index, next_keyframe = 0, 0
        while True:
            wait = self._started + index / self._fps - time.monotonic()
            if self._stop.wait(max(0.0, wait)):
                return
            # Skip the frames that are already late rather than fall further behind.
            index = max(index, int((time.monotonic() - self._started) * self._fps))
            pts = round(index * PTS_CLOCK / self._fps)
            frame = self._picture.frame(self.epoch + pts / PTS_CLOCK)
            frame.pts, frame.time_base = pts, _TIME_BASE
            if pts >= next_keyframe:
                frame.pict_type = PictureType.I
                next_keyframe = pts + round(KEYFRAME_INTERVAL * PTS_CLOCK)
            for packet in self._stream.encode(frame):
                self._mux(packet)
            if self._audio is not None:
                self._encode_audio(self._audio, until=pts / PTS_CLOCK)
            index += 1

    def _encode_audio(self, stream: av.AudioStream, until: float) -> None:
        """Encode the tone up to `until` seconds of stream time, one AAC frame at a time."""
        size = stream.codec_context.frame_size
        step = 2 * math.pi * TONE / AUDIO_RATE
        while (self._samples + size) / AUDIO_RATE <= until:
            first = self._samples
            tone = array.array("f", (0.2 * math.sin(step * (first + n)) for n in range(size)))
            frame = av.AudioFrame(format="fltp", layout="mono", samples=size)
            frame.planes[0].update(tone.tobytes())
            frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, first, stream.time_base
            self._samples += size
            for packet in stream.encode(frame):
                if packet.pts is not None and packet.pts >= 0:  # not the encoder's priming
                    self._mux(packet)

    def _mux(self, packet: av.Packet[av.VideoStream] | av.Packet[av.AudioStream]) -> None:
        assert self._stream is not None
        with self._lock:
            viewers, departed = list(self._viewers), self._departed
            self._departed = []
        for viewer in departed:
            self._close_muxer(viewer)
        for viewer in viewers:
            muxer = self._muxers.get(viewer)
            if muxer is None:
                # A viewer's stream starts at a video keyframe (replayed packets have no stream:
                # they are all video).
                is_audio = packet.stream is not None and packet.stream.type == "audio"
                if is_audio or not packet.is_keyframe:
                    continue
                sink = _Sink()
                container = av.open(
                    sink,
                    "w",
                    format="mpegts",
                    options={"mpegts_copyts": "1", "flush_packets": "1"},
                )
                container.add_stream_from_template(self._stream)
                if self._audio is not None:
                    # The template predates the opened encoder: MPEG-TS needs its AAC config
                    # (extradata) to write ADTS headers.
                    audio = container.add_stream_from_template(self._audio)
                    audio.codec_context.extradata = self._audio.codec_context.extradata
                    audio.codec_context.layout = self._audio.codec_context.layout
                muxer = self._muxers[viewer] = (container, sink)
            container, sink = muxer
            container.mux(packet)
            if chunk := sink.take():
                self._loop.call_soon_threadsafe(viewer._deliver, chunk)

    def _close_muxer(self, viewer: Viewer) -> None:
        muxer = self._muxers.pop(viewer, None)
        if muxer is not None:
            with contextlib.suppress(av.FFmpegError):
                muxer[0].close()

    def _close_all(self) -> None:
        with self._lock:
            self._stop.set()
            viewers, self._viewers = self._viewers, []
            self._departed = []
        for viewer in list(self._muxers):
            self._close_muxer(viewer)
        if self._host is not None:
            with contextlib.suppress(av.FFmpegError):
                self._host.close()
        with contextlib.suppress(RuntimeError):  # the event loop is already closed
            for viewer in viewers:
                self._loop.call_soon_threadsafe(viewer.close)


class _Replayer(_Encoder):
    """A thread that replays pre-encoded footage in real time instead of encoding frames."""

    def __init__(self, footage: Footage, picture: Picture, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(picture, footage.spec.fps, False, loop)  # footage has no sound
        self._footage = footage

    def open(self) -> None:
        """Make the muxing template from the footage's own stream (blocking, no encoder)."""
        with self._footage.open_template() as source:
            host = av.open(_Sink(), "w", format="mpegts")
            try:
                stream = host.add_stream_from_template(source.streams.video[0])
                stream.time_base = _TIME_BASE
            except BaseException:
                host.close()
                raise
        self._host, self._stream = host, stream

    def _encode_until_stopped(self) -> None:
        frames = self._footage.frames
        index = 0
        while True:
            wait = self._started + index / self._fps - time.monotonic()
            if self._stop.wait(max(0.0, wait)):
                return
            # When late, jump to the last keyframe due (never inside a GOP: the frames after a gap
            # would reference missing ones), else send the next frame and catch up.
            target = int((time.monotonic() - self._started) * self._fps)
            while target > index and not frames[target % len(frames)].keyframe:
                target -= 1
            index = max(index, target)
            frame = frames[index % len(frames)]
            packet: av.Packet[av.VideoStream] = av.Packet(frame.data)  # type: ignore[assignment]
            packet.pts = packet.dts = round(index * PTS_CLOCK / self._fps)
            packet.time_base = _TIME_BASE
            packet.is_keyframe = frame.keyframe
            self._mux(packet)
            index += 1


class LiveVideo:
    """The live H.264 stream (with an AAC tone if `audio`) and snapshots of one picture;
    encodes only while watched.

    With `footage`, the stream replays that pre-encoded loop (at its own frame rate) instead of
    encoding the picture: no burned-in clock, but real sizes and bitrates at little CPU.
    """

    def __init__(
        self, picture: Picture, fps: float, footage: Footage | None = None, *, audio: bool = False
    ) -> None:
        if not 0 < fps <= 60:
            raise ValueError(f"fps must be in (0, 60], got {fps}")
        self.picture = picture
        self.fps = footage.spec.fps if footage else fps
        self.footage = footage
        self.audio = audio and footage is None  # replayed footage has no sound
        self._lock = asyncio.Lock()
        self._encoder: _Encoder | None = None
        self._encoders: set[_Encoder] = set()

    async def watch(self) -> Viewer:
        """Join the live stream, starting the encoder if nobody watched yet.

        Raises `av.FFmpegError` if the encoder cannot be opened.
        """
        async with self._lock:
            self._encoders = {encoder for encoder in self._encoders if encoder.alive}
            for _ in range(2):
                encoder = self._encoder
                if encoder is None:
                    loop = asyncio.get_running_loop()
                    encoder = (
                        _Replayer(self.footage, self.picture, loop)
                        if self.footage
                        else _Encoder(self.picture, self.fps, self.audio, loop)
                    )
                    await asyncio.to_thread(encoder.open)
                    encoder.start()
                    self._encoder = encoder
                    self._encoders.add(encoder)
                viewer = Viewer(encoder.epoch, self.fps, partial(self._leave, encoder))
                if encoder.add(viewer):
                    return viewer
                self._encoder = None  # it stopped on its own (failed); start another one
            raise RuntimeError("the video encoder stopped as soon as it started")

    def _leave(self, encoder: _Encoder, viewer: Viewer) -> None:
        if encoder.remove(viewer) and self._encoder is encoder:
            self._encoder = None

    @property
    def encoding(self) -> bool:
        """True while an encoder thread runs."""
        return any(encoder.alive for encoder in self._encoders)

    async def snapshot(self) -> bytes:
        """A JPEG of the picture now, encoded in an executor."""
        return await asyncio.to_thread(self.picture.jpeg, time.time())

    async def close(self) -> None:
        """End every viewer's stream and wait for the encoder threads to finish."""
        self._encoder = None
        encoders, self._encoders = self._encoders, set()
        for encoder in encoders:
            encoder.stop()
        for encoder in encoders:
            await asyncio.to_thread(encoder.join)
