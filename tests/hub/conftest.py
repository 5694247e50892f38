"""Fixtures for hub tests: a real hub in-process or as a process, on loopback only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from doorward_hub.app import Hub
from doorward_hub.config import HubConfig

from ..support import LOOPBACK, free_port, loose_secrets, wait_for

__all__ = ["LOOPBACK", "free_port", "loose_secrets", "wait_for"]


def hub_config(data_dir: Path, **changes: Any) -> HubConfig:
    """Settings for a test hub: loopback only, mDNS on 127.0.0.1."""
    settings: dict[str, Any] = {
        "data_dir": data_dir,
        "host": LOOPBACK,
        "port": 0,
        "zeroconf_interfaces": [LOOPBACK],
        "name": "Test hub",
    }
    settings.update(changes)
    return HubConfig(**settings)


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """A running hub in this process."""
    running = Hub(hub_config(tmp_path / "hub"))
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session


async def pair_client(session: aiohttp.ClientSession, base: str, code: str) -> str:
    """Pair with the hub at `base` and return the token."""
    async with session.post(f"{base}/api/v1/pair", json={"code": code, "client_name": "test"}) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"])


@pytest.fixture
async def token(hub: Hub, http: aiohttp.ClientSession) -> str:
    """A client token for the in-process hub."""
    return await pair_client(http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code())


class Process:
    """A `doorward-hub` subprocess whose output goes to a log file (read on failure)."""

    def __init__(self, args: list[str], log: Path) -> None:
        """Start `python -m doorward_hub ARGS`."""
        self.log = log
        self._file = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "doorward_hub", *args],
            stdout=self._file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send `sig` and wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._file.close()
        return self.proc.returncode


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[[list[str], str], Process]]:
    """Start `doorward-hub` subprocesses; all are stopped at the end of the test."""
    started: list[Process] = []

    def start(args: list[str], name: str) -> Process:
        process = Process(args, tmp_path / f"{name}-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop(signal.SIGKILL if process.proc.poll() is None else signal.SIGTERM)


async def wait_for_file_json(path: Path, process: Process, timeout: float = 20.0) -> Any:
    """Wait until `process` writes a JSON file at `path` (fail early if it dies)."""

    def ready() -> bool:
        if process.proc.poll() is not None:
            raise AssertionError(f"process exited early:\n{process.output()}")
        return path.exists()

    await wait_for(ready, timeout)
    return json.loads(path.read_text())
