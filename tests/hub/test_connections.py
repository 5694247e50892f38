"""Idle and slow connections are closed, and running out of file descriptors is survived quietly
(issue 15, item 7)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from doorward_hub import app as hub_app
from doorward_hub.app import Hub

from .conftest import LOOPBACK, free_port, hub_config, wait_for

FD_LIMIT = 256


async def closed_by_hub(reader: asyncio.StreamReader) -> bool:
    return await reader.read(1024) == b""


@pytest.fixture
async def quick_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setattr(hub_app, "KEEPALIVE_TIMEOUT", 1.0)
    hub = Hub(hub_config(tmp_path / "hub"))
    await hub.start()
    yield hub  # type: ignore[misc]
    await hub.stop()


async def test_a_connection_that_never_sends_is_closed(quick_hub: Hub) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, quick_hub.port)
    try:
        started = time.monotonic()
        assert await asyncio.wait_for(closed_by_hub(reader), 10)
        assert time.monotonic() - started < 5
    finally:
        writer.close()


async def test_headers_sent_a_byte_at_a_time_do_not_hold_a_connection(quick_hub: Hub) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, quick_hub.port)
    started = time.monotonic()
    try:
        writer.write(b"GET /api/v1/info HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(ConnectionError):
            while time.monotonic() - started < 10 and not reader.at_eof():
                writer.write(b"X")
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(1024), 0.3)
        assert time.monotonic() - started < 5, "closed halfway through the headers"
    finally:
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed(quick_hub: Hub) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, quick_hub.port)
    try:
        writer.write(b"GET /api/v1/info HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in await reader.readuntil(b"\r\n")
        started = time.monotonic()
        await asyncio.wait_for(reader.read(), 10)  # the rest of the answer, then the close
        assert time.monotonic() - started < 5
    finally:
        writer.close()


async def test_idle_connections_beyond_the_file_limit_do_not_flood_the_log(
    tmp_path: Path,
) -> None:
    """A hub under a low open-file limit (like systemd's 1,024) and more idle connections than
    it can hold: it answers again once the idle ones time out, and logs a few lines, not a
    traceback per failed accept()."""
    port = free_port()
    log = tmp_path / "hub.log"
    launcher = (
        "import resource, runpy, sys;"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT}));"
        "sys.argv[0] = 'doorward-hub';"
        "runpy.run_module('doorward_hub', run_name='__main__')"
    )
    args = ["serve", "--data-dir", str(tmp_path / "hub"), "--host", LOOPBACK, "--port", str(port),
            "--interface", LOOPBACK, "--log-format", "json"]  # fmt: skip
    with log.open("wb") as output:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", launcher, *args, stdout=output, stderr=subprocess.STDOUT
        )
    idle: list[socket.socket] = []
    try:
        async with aiohttp.ClientSession() as http:

            async def info() -> bool:
                assert proc.returncode is None, log.read_text()
                try:
                    async with (
                        asyncio.timeout(2),
                        http.get(f"http://{LOOPBACK}:{port}/api/v1/info") as response,
                    ):
                        return response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    return False

            await wait_for(info, timeout=30)
            for _ in range(FD_LIMIT + 150):
                sock = socket.create_connection((LOOPBACK, port))
                idle.append(sock)
            await asyncio.sleep(3)  # the hub is out of descriptors now
            await wait_for(info, timeout=60)  # and serves again once the idle ones time out
    finally:
        for sock in idle:
            sock.close()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
    lines = log.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(lines) == len(records), "only JSON records, no bare traceback lines"
    resource_errors = [r for r in records if "out of system resource" in r["message"]]
    assert 1 <= len(resource_errors) <= 5, len(resource_errors)
    assert len(records) < 50
    assert os.path.getsize(log) < 100_000
