"""Press-to-client latency: simulated press → hub (separate process) → WebSocket client.

Runs N simulated doorbells in this process and the hub as a subprocess, both on loopback, and
presses the doorbells round-robin. For every press it measures the time from `press()` to the
event arriving at a WebSocket client of the hub. As a reference in the same run, a second client
listens on one doorbell's own event stream: that is the floor the hub's work adds to.

    scripts/toolchain isolated python bench/press_latency.py [--doorbells 20] [--presses 400]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from doorward_simulator.device import SimulatedDoorbell

LOOPBACK = "127.0.0.1"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    print(
        f"{name:<28} n={len(ms):<5} p50={percentile(ms, 0.5):7.2f} ms  "
        f"p99={percentile(ms, 0.99):7.2f} ms  max={max(ms):7.2f} ms  "
        f"mean={statistics.fmean(ms):7.2f} ms"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


async def wait_online(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], n: int
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with http.get(f"{base}/doorbells", headers=headers) as response:
                doorbells = (await response.json())["doorbells"]
            if sum(d["online"] for d in doorbells) >= n:
                return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("doorbells did not come online within 60 s")


async def run(doorbell_count: int, presses: int, spacing: float) -> None:
    with tempfile.TemporaryDirectory(prefix="doorward-bench-") as tmp:
        port = free_port()
        hub = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "doorward_hub", "serve", "--data-dir", f"{tmp}/hub",
            "--host", LOOPBACK, "--port", str(port), "--interface", LOOPBACK,
            "--log-level", "warning",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        doorbells = [
            SimulatedDoorbell(f"bench-{n}", f"Bench {n}", LOOPBACK, interfaces=[LOOPBACK])
            for n in range(doorbell_count)
        ]
        try:
            for doorbell in doorbells:
                await doorbell.start()
            await measure(hub, port, Path(tmp) / "hub", doorbells, presses, spacing)
        finally:
            for doorbell in doorbells:
                await doorbell.stop()
            hub.send_signal(signal.SIGTERM)
            await asyncio.wait_for(hub.wait(), 30)


async def measure(
    hub: asyncio.subprocess.Process,
    port: int,
    data_dir: Path,
    doorbells: list[SimulatedDoorbell],
    presses: int,
    spacing: float,
) -> None:
    base = f"http://{LOOPBACK}:{port}/api/v1"
    async with aiohttp.ClientSession() as http:
        code_file = data_dir / "pairing-code"
        deadline = time.monotonic() + 30
        while not code_file.exists():
            if hub.returncode is not None or time.monotonic() > deadline:
                raise SystemExit("the hub did not start")
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        async with http.post(f"{base}/pair", json={"code": code_file.read_text().strip()}) as r:
            token = (await r.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        await wait_online(http, base, headers, len(doorbells))

        pressed_at: dict[tuple[str, int], float] = {}
        hub_latency: list[float] = []
        direct_latency: list[float] = []
        all_seen = asyncio.Event()

        async with http.get(f"{base}/events?limit=1", headers=headers) as response:
            last_seq = (await response.json())["last_seq"]

        async def hub_client() -> None:
            async with http.ws_connect(f"{base}/ws?after={last_seq}", headers=headers) as ws:
                async for msg in ws:
                    message: dict[str, Any] = msg.json()
                    if message["type"] != "event":
                        continue
                    now = time.perf_counter()
                    event = message["event"]
                    key = (event["doorbell_id"], int(event["device_time"] * 1000))
                    start = pressed_at.pop(key, None)
                    if start is not None:
                        hub_latency.append(now - start)
                    if len(hub_latency) >= presses:
                        all_seen.set()
                        return

        # Reference: the same presses of doorbell 0, read from the device's own stream.
        reference = doorbells[0]
        direct_at: dict[int, float] = {}

        async def direct_client() -> None:
            # The simulator is ours: borrow the token it issued to the hub (one token at a time).
            device_token = reference._token
            async with http.ws_connect(
                f"{reference.url}/doorward/v1/events",
                headers={"Authorization": f"Bearer {device_token}"},
            ) as ws:
                async for msg in ws:
                    message = msg.json()
                    if message.get("type") == "event":
                        start = direct_at.pop(message["seq"], None)
                        if start is not None:
                            direct_latency.append(time.perf_counter() - start)

        listeners = [asyncio.create_task(hub_client()), asyncio.create_task(direct_client())]
        await asyncio.sleep(0.5)
        for n in range(presses):
            doorbell = doorbells[n % len(doorbells)]
            start = time.perf_counter()
            event = await doorbell.press()
            pressed_at[(doorbell.device_id, int(event["time"] * 1000))] = start
            if doorbell is reference:
                direct_at[event["seq"]] = start
            await asyncio.sleep(spacing)
        try:
            await asyncio.wait_for(all_seen.wait(), 30)
        except TimeoutError:
            raise SystemExit(f"only {len(hub_latency)} of {presses} presses arrived") from None
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)

    print(f"{len(doorbells)} doorbells, {presses} presses, one every {spacing * 1000:.0f} ms")
    report("press -> hub WebSocket client", hub_latency)
    if direct_latency:
        report("press -> device stream (ref)", direct_latency)
    print(f"target: p99 < 50 ms (measured p99 {percentile(hub_latency, 0.99) * 1000:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doorbells", type=int, default=20)
    parser.add_argument("--presses", type=int, default=400)
    parser.add_argument(
        "--spacing",
        type=float,
        default=0.125,
        help="seconds between presses; each doorbell is pressed every doorbells*spacing "
        "seconds, which must exceed the hub's 2 s press-merge window",
    )
    args = parser.parse_args()
    asyncio.run(run(args.doorbells, args.presses, args.spacing))


if __name__ == "__main__":
    main()
