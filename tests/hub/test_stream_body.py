"""The reader of a doorbell's live HTTP body: chunked transfer coding undone across any split of
the bytes, coalesced reads, malformed coding refused with a reason."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest

from doorward_hub.recording import stream_body
from doorward_hub.recording.stream_body import StreamBody, VideoStreamError

CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n\r\n"
PLAIN = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n"


@pytest.fixture(autouse=True)
def short_pause(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A reader that has caught up waits a millisecond, not a fifth of a second."""
    monkeypatch.setattr(stream_body, "COALESCE_SECONDS", 0.001)
    yield
    while RESPONSES:
        RESPONSES.pop().close()


def chunked(payload: bytes, sizes: Iterator[int], extensions: bool = False) -> bytes:
    """`payload` in chunked transfer coding, cut into chunks of the given sizes."""
    out, offset = bytearray(), 0
    while offset < len(payload):
        piece = payload[offset : offset + next(sizes)]
        offset += len(piece)
        extension = b";name=value" if extensions else b""
        out += f"{len(piece):X}".encode() + extension + b"\r\n" + piece + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


RESPONSES: list[http.client.HTTPResponse] = []
"""The responses being read (one that is collected closes its socket)."""


def serve(
    head: bytes,
    body: bytes,
    cuts: list[int],
    pause: float = 0.002,
    *,
    watched: bool = False,
    tap: Callable[[bytes], None] | None = None,
) -> StreamBody:
    """A reader of an HTTP response whose bytes arrive in pieces cut at `cuts` (a pause each)."""
    ours, theirs = socket.socketpair()
    wire = head + body
    edges = [0, *sorted({len(head) + cut for cut in cuts if 0 < cut < len(body)}), len(wire)]

    def send() -> None:
        with theirs, contextlib.suppress(BrokenPipeError):  # a refused body is not read on
            for start, end in itertools.pairwise(edges):
                theirs.sendall(wire[start:end])
                time.sleep(pause)

    threading.Thread(target=send, daemon=True).start()
    response = http.client.HTTPResponse(ours)
    response.begin()
    RESPONSES.append(response)
    return StreamBody(response, tap, lambda: watched)


def read_all(reader: StreamBody, size: int = 4096) -> bytes:
    out = bytearray()
    while data := reader.read(size):
        assert len(data) <= size
        out += data
    return bytes(out)


@pytest.mark.parametrize("seed", range(6))
def test_chunked_bodies_are_decoded_whatever_the_reads_cut(seed: int) -> None:
    rng = random.Random(seed)
    payload = rng.randbytes(200_000)
    body = chunked(payload, iter(lambda: rng.randint(1, 40_000), None), extensions=seed % 2 == 1)
    # Cuts inside size lines, between CR and LF, right after a chunk: every place a read can end.
    cuts = [rng.randrange(len(body)) for _ in range(60)] + list(range(1, 12))
    assert read_all(serve(CHUNKED, body, cuts), size=rng.choice([1, 188, 32768])) == payload


def test_a_chunked_body_arriving_a_byte_at_a_time_is_decoded() -> None:
    payload = b"0123456789abcdef" * 8
    body = chunked(payload, iter([3, 50, 1, 200]))
    assert read_all(serve(CHUNKED, body, list(range(len(body))), pause=0)) == payload


def test_a_body_without_chunking_is_read_to_its_end() -> None:
    payload = random.Random(1).randbytes(700_000)
    assert read_all(serve(PLAIN, payload, [1, 5000, 300_001]), size=32768) == payload


def test_what_arrived_while_the_reader_waited_is_taken_in_one_read() -> None:
    payload = bytes(100_000)
    body = chunked(payload, iter(lambda: 1000, None))
    reader = serve(CHUNKED, body, [10], pause=0.05)
    first = reader.read(32768)  # the first piece: 10 bytes of the coding, then the rest
    assert len(first) <= 1000
    time.sleep(0.2)  # everything has arrived: reads now come from the buffer, a chunk at a time
    sizes = []
    while data := reader.read(1 << 20):
        sizes.append(len(data))
    assert set(sizes) == {1000}
    assert len(first) + sum(sizes) == len(payload)


def test_every_byte_read_reaches_the_tap() -> None:
    payload = random.Random(2).randbytes(50_000)
    seen = bytearray()
    body = chunked(payload, iter(lambda: 777, None))
    reader = serve(CHUNKED, body, [100, 20_000], tap=seen.extend)
    assert read_all(reader) == payload
    assert seen == payload


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hexadecimal
        b"-5\r\nhello\r\n0\r\n\r\n",  # a sign
        b"0x5\r\nhello\r\n0\r\n\r\n",  # a prefix
        b"5\r\nhelloXY3\r\nabc\r\n0\r\n\r\n",  # no CRLF after the chunk's data
        b"1" * 100 + b"\r\n",  # a size line too long
        b"123456789\r\n",  # more than 4 GiB
    ],
)
def test_malformed_chunked_coding_is_refused(body: bytes) -> None:
    reader = serve(CHUNKED, body, [3])
    with pytest.raises(VideoStreamError, match="malformed chunked transfer coding"):
        read_all(reader)


def test_a_body_cut_off_mid_chunk_ends_the_stream() -> None:
    reader = serve(CHUNKED, b"10\r\nonly-eight", [])
    assert read_all(reader) == b"only-eight"


@pytest.mark.parametrize("watched", [False, True])
def test_a_watched_stream_is_read_a_frame_or_two_at_a_time(
    monkeypatch: pytest.MonkeyPatch, watched: bool
) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(0.001)

    clock = SimpleNamespace(sleep=sleep)
    monkeypatch.setattr("doorward_hub.recording.stream_body.time", clock)
    payload = bytes(5000)
    body = chunked(payload, iter(lambda: 500, None))
    reader = serve(CHUNKED, body, [100, 2000, 4000], pause=0.02, watched=watched)
    assert read_all(reader) == payload
    expected = stream_body.WATCHED_COALESCE_SECONDS if watched else stream_body.COALESCE_SECONDS
    assert waits
    assert set(waits) == {expected}
