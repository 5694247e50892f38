"""The body of a doorbell's live HTTP stream as PyAV's demuxer reads it, in coalesced reads.

Blocking: it runs in the stream's thread."""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable

COALESCE_SECONDS = 0.5
"""How long a reader that has caught up with the stream waits before it reads again. Every
wake-up costs far more than the bytes it reads (10 doorbells at 1080p: 2.5 CPU s a minute at
0.5 s, 3.1 at 0.2 s), and nothing waits on a recorded stream: a clip's start comes from the
pre-roll buffer, only its end is noticed up to this much later."""
WATCHED_COALESCE_SECONDS = 0.04
"""The wait while someone watches the stream live through the hub: a frame or two at a time."""
READ_SIZE = 256 * 1024
"""What one read takes at most: 0.5 s of a stream of 4 Mbit/s (more is read in several)."""
MAX_CHUNK_LINE = 64
"""The longest chunk size line read (hex digits, extensions) before the coding is malformed."""
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


class VideoStreamError(Exception):
    """The video stream could not be read; the message says why."""


class StreamBody:
    """The body of an HTTP response as PyAV reads it: whatever has arrived, up to `size`.

    Live video arrives a frame at a time; waking up for each one costs more CPU than handling
    it. Once caught up with the stream, the reader waits `COALESCE_SECONDS` and then takes
    everything that arrived meanwhile in one read, straight into a buffer of its own (one copy
    out per `read`). Chunked transfer coding is undone here.
    """

    def __init__(
        self,
        response: http.client.HTTPResponse,
        tap: Callable[[bytes], None] | None = None,
        watched: Callable[[], bool] = lambda: False,
    ) -> None:
        """Read `response`'s body. `tap` sees every byte read; while `watched()` is true (live
        viewers share the stream), reads come `WATCHED_COALESCE_SECONDS` apart."""
        self._tap = tap
        self._watched = watched
        self._file = response.fp
        self._chunked = response.chunked
        self._buffer = bytearray(READ_SIZE)
        self._view = memoryview(self._buffer)
        self._start = 0  # the first byte not yet taken
        self._end = 0  # the end of the bytes read
        self._left = 0  # bytes of the current chunk still to come
        self._after_chunk = False  # a chunk's closing CRLF comes next
        self._caught_up = False

    def _fill(self) -> bool:
        """Read what has arrived (after a pause, once caught up); False at the end.

        Called only when what is left untaken is a few bytes at most (part of a chunk's size
        line): they move to the front, and the read fills the rest of the buffer."""
        left = self._end - self._start
        if left > MAX_CHUNK_LINE:
            raise VideoStreamError("malformed chunked transfer coding")
        self._buffer[:left] = self._view[self._start : self._end].tobytes()
        self._start, self._end = 0, left
        if self._caught_up:
            time.sleep(WATCHED_COALESCE_SECONDS if self._watched() else COALESCE_SECONDS)
        count = self._file.readinto1(self._view[left:])
        self._caught_up = count < READ_SIZE - left
        self._end += count
        return count > 0

    def _chunk_size(self) -> int | None:
        """The size of the next chunk, from its size line; None at the end of the body."""
        while True:
            if self._after_chunk and self._end - self._start >= 2:
                if self._buffer[self._start : self._start + 2] != b"\r\n":
                    raise VideoStreamError("malformed chunked transfer coding")
                self._start += 2
                self._after_chunk = False
            if not self._after_chunk:
                line_end = self._buffer.find(b"\r\n", self._start, self._end)
                if line_end >= 0:
                    break
            if not self._fill():
                return None
        size_field = self._view[self._start : line_end].tobytes().split(b";")[0].strip()
        self._start = line_end + 2
        if CHUNK_SIZE.fullmatch(size_field) is None:
            raise VideoStreamError("malformed chunked transfer coding")
        size = int(size_field, 16)
        return size or None  # the last chunk has size 0

    def read(self, size: int) -> bytes:
        """Up to `size` bytes, blocking until some arrive; b"" at the end."""
        if self._chunked and self._left == 0:
            chunk = self._chunk_size()
            if chunk is None:
                return b""
            self._left = chunk
        if self._start == self._end and not self._fill():
            return b""
        count = min(size, self._end - self._start)
        if self._chunked:
            count = min(count, self._left)
            self._left -= count
            self._after_chunk = self._left == 0
        data = self._view[self._start : self._start + count].tobytes()
        self._start += count
        if self._tap is not None:
            self._tap(data)
        return data
