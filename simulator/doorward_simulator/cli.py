"""Simulator commands ``simulate``, ``press`` and ``motion``, for `doorward-simulator` and
`doorward-hub` alike. PyAV and zeroconf load only when a doorbell is actually simulated."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from doorward_hub.core.logs import configure_logging

if TYPE_CHECKING:
    from .device import SimulatedDoorbell

_REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the simulator's subcommands to the hub's command line."""
    simulate = subparsers.add_parser(
        "simulate",
        help="run simulated doorbells (Doorward doorbell protocol) until interrupted",
        description="Run simulated doorbells until SIGINT or SIGTERM. Prints one line per "
        "doorbell: id, name, URL.",
    )
    simulate.add_argument(
        "--doorbells", type=_positive_int, default=1, metavar="N", help="how many (default 1)"
    )
    simulate.add_argument(
        "--host", default="127.0.0.1", help="IP address to listen on (default 127.0.0.1)"
    )
    simulate.add_argument(
        "--interface",
        action="append",
        metavar="ADDR",
        help="interface address for mDNS (repeatable; default: the --host address, "
        "or all interfaces when --host is 0.0.0.0 or ::)",
    )
    simulate.add_argument(
        "--base-port",
        type=_port,
        default=0,
        metavar="P",
        help="doorbell n listens on P+n-1 (default: any free ports)",
    )
    simulate.add_argument(
        "--device-id",
        action="append",
        dest="device_ids",
        metavar="ID",
        help="the id of doorbell n, once per doorbell, so a new run is the same devices "
        "(default: sim-<random>-<n>)",
    )
    simulate.add_argument(
        "--state-file",
        type=Path,
        metavar="PATH",
        help='write {"doorbells": [{"id", "name", "url", "port"}]} here once all are up '
        "(removed on exit)",
    )
    simulate.add_argument("--fps", type=float, default=10.0, help="frames per second (default 10)")
    simulate.add_argument(
        "--audio", action="store_true", help="add a microphone: a 440 Hz tone as an AAC track"
    )
    simulate.add_argument(
        "--size", type=_size, default=(320, 240), metavar="WxH", help="picture size (320x240)"
    )
    simulate.add_argument(
        "--footage",
        type=_size,
        metavar="WxH",
        help="replay pre-encoded H.264 of this size at --bitrate and 15 fps instead of encoding "
        "the clock picture (encoded once into the cache; overrides --size and --fps)",
    )
    simulate.add_argument(
        "--bitrate",
        type=_positive_int,
        default=3_000_000,
        metavar="BPS",
        help="bits per second of --footage (default 3000000)",
    )
    simulate.set_defaults(func=_simulate)

    press = subparsers.add_parser("press", help="press the button of a running simulated doorbell")
    press.add_argument("url", metavar="URL", help="the doorbell's base URL, http://HOST:PORT")
    press.set_defaults(func=_press)

    motion = subparsers.add_parser("motion", help="start or stop motion at a simulated doorbell")
    motion.add_argument("url", metavar="URL", help="the doorbell's base URL, http://HOST:PORT")
    motion.add_argument("state", choices=["start", "stop"])
    motion.set_defaults(func=_motion)


def _positive_int(text: str) -> int:
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdecimal() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}")
    return int(text)


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"([0-9]{1,5})x([0-9]{1,5})", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")
    return int(match[1]), int(match[2])


def _simulate(args: argparse.Namespace) -> int:
    configure_logging()
    try:
        asyncio.run(_run_simulator(args))
    except (OSError, ValueError) as err:
        print(f"doorward-hub simulate: {err}", file=sys.stderr)
        return 1
    return 0


async def _run_simulator(args: argparse.Namespace) -> None:
    from .device import Simulator  # noqa: PLC0415 - PyAV and zeroconf only when simulating
    from .footage import Footage, FootageSpec  # noqa: PLC0415 - numpy only when simulating

    footage = None
    if args.footage is not None:
        width, height = args.footage
        spec = FootageSpec(width, height, bitrate=args.bitrate)
        footage = await asyncio.to_thread(Footage.load, spec)
    simulator = Simulator(
        args.doorbells,
        args.host,
        args.interface,
        base_port=args.base_port,
        device_ids=args.device_ids,
        width=args.size[0],
        height=args.size[1],
        fps=args.fps,
        audio=args.audio,
        footage=footage,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stopping.set)
    state_file: Path | None = args.state_file
    try:
        await simulator.start()
        for doorbell in simulator.doorbells:
            print(f"{doorbell.device_id}\t{doorbell.name}\t{doorbell.url}", flush=True)
        if state_file is not None:
            await asyncio.to_thread(_write_state, state_file, simulator.doorbells)
        await stopping.wait()
    finally:
        await simulator.stop()
        if state_file is not None:
            await asyncio.to_thread(state_file.unlink, missing_ok=True)
        for signum in signals:
            loop.remove_signal_handler(signum)


def _write_state(path: Path, doorbells: list[SimulatedDoorbell]) -> None:
    """Write the state file atomically: readers see all of it or nothing."""
    state = {
        "doorbells": [
            {"id": d.device_id, "name": d.name, "url": d.url, "port": d.port} for d in doorbells
        ]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(state, file, indent=2)
            file.write("\n")
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def _press(args: argparse.Namespace) -> int:
    return _control(args.url, "/sim/press", None)


def _motion(args: argparse.Namespace) -> int:
    return _control(args.url, "/sim/motion", {"state": args.state})


def _control(url: str, path: str, body: dict[str, Any] | None) -> int:
    """POST to a simulated doorbell's control endpoint and print its answer."""
    target = url.rstrip("/") + path
    try:
        status, answer = asyncio.run(_post(target, body))
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        print(f"doorward-hub: cannot reach {target}: {err or type(err).__name__}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"doorward-hub: {target} answered HTTP {status}: {answer}", file=sys.stderr)
        return 1
    print(answer)
    return 0


async def _post(url: str, body: dict[str, Any] | None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=_REQUEST_TIMEOUT) as session,
        session.post(url, json=body) as response,
    ):
        return response.status, await response.text()


def main(argv: list[str] | None = None) -> int:
    """The `doorward-simulator` command; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="doorward-simulator", description="Simulated Doorward doorbells for tests and demos."
    )
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return result
