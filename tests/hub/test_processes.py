"""The hub and simulated doorbells as separate processes, as they run for real."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import LOOPBACK, Process, free_port, pair_client, wait_for, wait_for_file_json

type Start = Callable[[list[str], str], Process]


def serve_args(data_dir: Path, port: int) -> list[str]:
    return [
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--interface",
        LOOPBACK,
        "--log-format",
        "json",
    ]


async def wait_until_serving(http: aiohttp.ClientSession, process: Process, port: int) -> None:
    async def up() -> bool:
        if process.proc.poll() is not None:
            raise AssertionError(f"hub exited early:\n{process.output()}")
        try:
            async with http.get(f"http://{LOOPBACK}:{port}/api/v1/info") as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False

    await wait_for(up, timeout=30)


async def start_simulator(start: Start, tmp_path: Path, name: str) -> dict[str, Any]:
    state = tmp_path / f"{name}.json"
    process = start(
        ["simulate", "--doorbells", "1", "--interface", LOOPBACK, "--state-file", str(state)], name
    )
    doorbells: list[dict[str, Any]] = (await wait_for_file_json(state, process))["doorbells"]
    return doorbells[0]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doorward_hub", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def receive(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == kind:
                return message


async def all_online(http: aiohttp.ClientSession, base: str, token: str, ids: set[str]) -> bool:
    async with http.get(
        f"{base}/api/v1/doorbells", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        if response.status != 200:
            return False
        doorbells = (await response.json())["doorbells"]
    return {d["id"] for d in doorbells if d["online"]} >= ids


async def test_hub_finds_two_doorbells_and_a_press_reaches_a_client(
    tmp_path: Path, processes: Start, http: aiohttp.ClientSession
) -> None:
    port = free_port()
    hub = processes(serve_args(tmp_path / "hub", port), "hub")
    front = await start_simulator(processes, tmp_path, "front")
    back = await start_simulator(processes, tmp_path, "back")
    await wait_until_serving(http, hub, port)
    base = f"http://{LOOPBACK}:{port}"
    # The owner reads the code the hub printed and wrote for them.
    code = (tmp_path / "hub" / "pairing-code").read_text().strip()
    assert code in hub.output()
    token = await pair_client(http, base, code)
    await wait_for(lambda: all_online(http, base, token, {front["id"], back["id"]}), timeout=30)

    ws = await http.ws_connect(f"{base}/api/v1/ws", headers={"Authorization": f"Bearer {token}"})
    pressed = cli("press", back["url"])
    assert pressed.returncode == 0, pressed.stderr
    event = (await receive(ws, "event"))["event"]
    assert event["doorbell_id"] == back["id"]
    assert event["type"] == "press"
    await ws.close()

    # Structured logs: one JSON object per line, with fields.
    records = [json.loads(line) for line in hub.output().splitlines() if line.startswith("{")]
    assert any(r.get("doorbell_id") == back["id"] for r in records)
    assert hub.stop(signal.SIGTERM) == 0
    assert "Hub stopped" in hub.output()


async def test_killed_hub_loses_nothing_and_repeats_nothing(
    tmp_path: Path, processes: Start, http: aiohttp.ClientSession
) -> None:
    port = free_port()
    data = tmp_path / "hub"
    hub = processes(serve_args(data, port), "hub")
    door = await start_simulator(processes, tmp_path, "door")
    await wait_until_serving(http, hub, port)
    base = f"http://{LOOPBACK}:{port}"
    token = await pair_client(http, base, (data / "pairing-code").read_text().strip())
    headers = {"Authorization": f"Bearer {token}"}
    await wait_for(lambda: all_online(http, base, token, {door["id"]}), timeout=30)

    # The client sees a first press, remembers its seq, and goes away.
    ws = await http.ws_connect(f"{base}/api/v1/ws", headers=headers)
    assert cli("press", door["url"]).returncode == 0
    first = (await receive(ws, "event"))["event"]
    await ws.close()

    # A press the hub stores while the client is away...
    assert cli("motion", door["url"], "start").returncode == 0

    async def stored() -> bool:
        async with http.get(f"{base}/api/v1/events?after={first['seq']}", headers=headers) as r:
            return len((await r.json())["events"]) == 1

    await wait_for(stored)
    # ...then the hub dies without a chance to clean up...
    hub.stop(signal.SIGKILL)
    # ...and the doorbell is pressed while the hub is down (the device keeps it for replay).
    assert cli("motion", door["url"], "stop").returncode == 0

    hub = processes(serve_args(data, port), "hub-again")
    await wait_until_serving(http, hub, port)
    ws = await http.ws_connect(f"{base}/api/v1/ws?after={first['seq']}", headers=headers)
    hello = await receive(ws, "hello")
    # The two events, and the message of the clip the first press started (recovered at start
    # or finished since) if it took a seq between them: all once, in seq order.
    delivered: list[dict[str, Any]] = []
    async with asyncio.timeout(15):
        while sum(m["type"] == "event" for m in delivered) < 2:
            message = await ws.receive_json()
            if message["type"] in {"event", "clip", "clip_removed"}:
                delivered.append(message)
    missed = [m["event"] for m in delivered if m["type"] == "event"]
    assert [e["type"] for e in missed] == ["motion_start", "motion_stop"]
    seqs = [m["event"]["seq"] if m["type"] == "event" else m["seq"] for m in delivered]
    assert seqs == list(range(first["seq"] + 1, first["seq"] + 1 + len(seqs)))
    assert hello["last_seq"] >= first["seq"] + 1
    # Nothing is delivered twice: no further event arrives.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.5):
            await receive(ws, "event")
    await ws.close()


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ("port: 70000\n", "port: value must be at most 65535"),
        ("adoption: sometimes\n", "adoption"),
        ("colour: blue\n", "colour: unknown key"),
        ("press_merge_seconds: -1\n", "press_merge_seconds"),
        ("zeroconf_interfaces: [nowhere]\n", "zeroconf_interfaces"),
        ("port: [\n", "not valid YAML"),
        ("- a list\n", "top level must be a mapping"),
    ],
)
def test_invalid_config_stops_startup_naming_the_key(
    tmp_path: Path, content: str, names: str
) -> None:
    config = tmp_path / "doorward.yaml"
    config.write_text(content)
    result = cli("serve", "--config", str(config), "--data-dir", str(tmp_path / "hub"))
    assert result.returncode == 2
    assert names in result.stderr
    assert str(config) in result.stderr
    assert not (tmp_path / "hub").exists(), "nothing may start on an invalid config"


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = cli("serve", "--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "cannot read config" in result.stderr


def test_pairing_code_command(tmp_path: Path) -> None:
    result = cli("pairing-code", "--data-dir", str(tmp_path / "none"))
    assert result.returncode == 1
    assert "start the hub once first" in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli(*serve_args(tmp_path / "hub", port))
    assert result.returncode == 1
    assert "cannot start" in result.stderr
    assert "Traceback" not in result.stderr
