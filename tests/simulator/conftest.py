"""Fixtures for the simulator tests: real simulated doorbells on loopback, real clients.

Run these without Home Assistant's pytest plugin, which blocks sockets: `-p no:homeassistant`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from doorward_simulator import SimulatedDoorbell

LOOPBACK = "127.0.0.1"
API = "/doorward/v1"


@pytest.fixture
async def doorbell() -> AsyncIterator[SimulatedDoorbell]:
    """A running simulated doorbell on 127.0.0.1 advertising on the loopback interface."""
    bell = SimulatedDoorbell(
        device_id=f"sim-test-{secrets.token_hex(4)}",
        name="Front door",
        host=LOOPBACK,
        interfaces=[LOOPBACK],
    )
    await bell.start()
    yield bell
    await bell.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


async def pair(
    session: aiohttp.ClientSession, doorbell: SimulatedDoorbell, hub_id: str = "hub-a"
) -> str:
    """Pair `hub_id` with the doorbell over HTTP; returns the token."""
    body = {"hub_id": hub_id, "hub_name": f"Hub {hub_id}"}
    async with session.post(f"{doorbell.url}{API}/pair", json=body) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
    assert isinstance(token, str)
    return token


async def post_sim(
    session: aiohttp.ClientSession, doorbell: SimulatedDoorbell, action: str, body: Any = None
) -> dict[str, Any]:
    """Call a `/sim` control endpoint; returns its JSON answer."""
    async with session.post(f"{doorbell.url}/sim/{action}", json=body) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
    return answer


async def receive_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next text message of `ws`, parsed (fails on anything else)."""
    message = await asyncio.wait_for(ws.receive(), 10)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    data: dict[str, Any] = json.loads(message.data)
    return data


async def ffprobe(path: str, entries: str) -> dict[str, Any]:
    """Run ffprobe on `path`; returns its JSON output (fails if ffprobe reports an error)."""
    process = await asyncio.create_subprocess_exec(
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        entries,
        "-of",
        "json",
        path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert not err.strip(), err.decode()
    result: dict[str, Any] = json.loads(out)
    return result
