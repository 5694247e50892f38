"""Helpers shared by the test suites: loopback ports, polling for a condition, file modes."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


async def wait_for(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll a plain or async callable until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


SECRET_PATTERNS = (
    "hub.db*",
    "pairing-code",
    "*.key",
    "audit.jsonl",
    "clips",
    "clips/**/*",
    "snapshots/**/*",
    "neighborhood",
    "neighborhood/**/*",
)
"""What the hub writes into its data folder (a test may put its own files next to them)."""


def loose_secrets(root: Path) -> list[str]:
    """Files and folders of every hub data folder under `root` that others could read."""
    loose = []
    for database in root.rglob("hub.db"):
        data_dir = database.parent
        paths = {data_dir} | {p for pattern in SECRET_PATTERNS for p in data_dir.glob(pattern)}
        for path in sorted(paths):
            if path.is_symlink() or not path.exists():
                continue
            want = 0o700 if path.is_dir() else 0o600
            if path.stat().st_mode & 0o777 != want:
                loose.append(f"{path.relative_to(root)} {path.stat().st_mode & 0o777:o}")
    return loose
