"""The simulator's commands: argument parsing, `simulate` as a process, `press` and `motion`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from doorward_simulator import cli

from .conftest import API, LOOPBACK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doorward-hub")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


async def _run(*args: str) -> tuple[int, str, str]:
    """Run ``python -m doorward_hub ARGS``; returns exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "doorward_hub",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def test_register_adds_the_subcommands() -> None:
    parser = _parser()
    args = parser.parse_args(
        ["simulate", "--doorbells", "3", "--interface", LOOPBACK, "--size", "640x480"]
    )
    assert (args.doorbells, args.host, args.interface, args.size) == (
        3,
        LOOPBACK,
        [LOOPBACK],
        (640, 480),
    )
    assert (args.base_port, args.state_file, args.fps) == (0, None, 10.0)
    assert args.device_ids is None
    assert callable(args.func)
    args = parser.parse_args(["simulate", "--device-id", "demo-1", "--device-id", "demo-2"])
    assert args.device_ids == ["demo-1", "demo-2"]
    args = parser.parse_args(["motion", "http://127.0.0.1:1", "stop"])
    assert (args.url, args.state) == ("http://127.0.0.1:1", "stop")
    assert callable(args.func)
    for wrong in (
        ["simulate", "--size", "big"],
        ["simulate", "--doorbells", "0"],
        ["motion", "u", "up"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(wrong)


def test_press_reports_an_unreachable_doorbell(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["press", f"http://{LOOPBACK}:{_free_port()}"])
    assert args.func(args) == 1
    assert "cannot reach" in capsys.readouterr().err


async def test_simulate_runs_until_sigterm(tmp_path: Path) -> None:
    state_file = tmp_path / "state" / "simulator.json"
    base_port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "doorward_hub",
        "simulate",
        "--doorbells",
        "2",
        "--host",
        LOOPBACK,
        "--interface",
        LOOPBACK,
        "--base-port",
        str(base_port),
        "--state-file",
        str(state_file),
        "--device-id",
        "front-door",
        "--device-id",
        "back-door",
        "--fps",
        "5",
        "--size",
        "160x120",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(300):
            if await asyncio.to_thread(state_file.exists) or process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        state = json.loads(await asyncio.to_thread(state_file.read_text))
        doorbells = state["doorbells"]
        assert [d["name"] for d in doorbells] == ["Doorbell 1", "Doorbell 2"]
        assert [d["id"] for d in doorbells] == ["front-door", "back-door"]
        assert [d["port"] for d in doorbells] == [base_port, base_port + 1]
        for doorbell in doorbells:
            assert doorbell["url"] == f"http://{LOOPBACK}:{doorbell['port']}"
        url = doorbells[0]["url"]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{url}{API}/info") as response,
        ):
            assert (await response.json())["id"] == doorbells[0]["id"]

        code, out, err = await _run("press", url)
        assert code == 0, err
        assert json.loads(out) == {
            "type": "event",
            "event": "press",
            "seq": 1,
            "time": json.loads(out)["time"],
        }
        code, out, err = await _run("motion", url + "/", "start")
        assert code == 0, err
        assert (json.loads(out)["event"], json.loads(out)["seq"]) == ("motion_start", 2)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert [line.split("\t") for line in lines] == [
        [d["id"], d["name"], d["url"]] for d in doorbells
    ]
    assert not await asyncio.to_thread(state_file.exists)


def test_own_command_lists_the_simulator_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "doorward_simulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.startswith("usage: doorward-simulator")
    assert all(name in result.stdout for name in ("simulate", "press", "motion"))


async def test_simulate_replays_footage_from_its_cache(tmp_path: Path) -> None:
    state_file = tmp_path / "simulator.json"
    cache = tmp_path / "footage"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "doorward_hub", "simulate", "--host", LOOPBACK,
        "--interface", LOOPBACK, "--state-file", str(state_file),
        "--footage", "320x240", "--bitrate", "500000",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DOORWARD_FOOTAGE_DIR": str(cache)},
    )  # fmt: skip
    try:
        for _ in range(600):
            if await asyncio.to_thread(state_file.exists) or process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        url = json.loads(await asyncio.to_thread(state_file.read_text))["doorbells"][0]["url"]
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}{API}/pair", json={"hub_id": "h", "hub_name": "H"}) as r:
                token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(f"{url}{API}/video", headers=headers) as response:
                assert response.status == 200
                data = await response.content.readexactly(188 * 100)
        assert data[0] == 0x47  # MPEG-TS sync byte
        cached = [p.name for p in cache.iterdir()]
        assert cached == ["v1-320x240-15fps-500kbps.ts"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
