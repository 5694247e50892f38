"""Log lines cannot be forged from outside (issue 15, item 3): whatever a client sends, one record
is one line, in the text format and in JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import aiohttp
import pytest

from doorward_hub.app import Hub
from doorward_hub.core.logs import JsonFormatter, TextFormatter, escape

from .conftest import LOOPBACK

FORGED = "x\nPairing code: FAKE-CODE\r\x1b[2K\u2028\u0085\ud800"


@pytest.fixture
def text_log() -> Iterator[io.StringIO]:
    """The root logger's records, as the hub writes them in its text format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_escape_keeps_one_line_and_shows_what_was_sent() -> None:
    assert escape(FORGED) == "x\\x0aPairing code: FAKE-CODE\\x0d\\x1b[2K\\u2028\\x85\\ud800"
    assert escape("Haustür 🚪") == "Haustür 🚪"


def test_text_records_are_one_line_whatever_the_message_and_fields() -> None:
    record = logging.LogRecord("doorward", logging.WARNING, __file__, 1, "name %s", (FORGED,), None)
    record.client = FORGED
    line = TextFormatter().format(record)
    assert not any(char in line for char in "\n\r\u2028\x85")
    assert line.count("Pairing code") == 2
    line.encode("utf-8")  # stderr can write it


def test_json_records_are_one_line() -> None:
    record = logging.LogRecord("doorward", logging.WARNING, __file__, 1, "%s", (FORGED,), None)
    record.client = FORGED
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["client"] == FORGED


def test_a_traceback_still_spans_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("d", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "Traceback" in TextFormatter().format(record).splitlines()[1]


async def test_a_client_cannot_forge_a_pairing_code_line(hub: Hub, text_log: io.StringIO) -> None:
    async with aiohttp.ClientSession() as session:
        for body in (
            {"code": "AAAA-AAAA", "client_name": FORGED},
            {"code": "AAAA-AAAA", "client_name": FORGED.replace("\ud800", "")},
            {"code": FORGED, "client_name": "ok"},
        ):
            async with session.post(
                f"http://{LOOPBACK}:{hub.port}/api/v1/pair", json=body
            ) as response:
                assert response.status in {400, 401}
    for line in text_log.getvalue().splitlines():
        assert not line.startswith("Pairing code"), line
        assert "FAKE-CODE" not in line or "\\x0a" in line
