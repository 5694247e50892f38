"""The neighbor household's own LAN for the demo: a network namespace joined to ours by sockets.

Two households on one machine would otherwise share one loopback network, and with it one mDNS
neighborhood: the demo household's hub adopts every doorbell it hears, the neighbor's too. A
real neighbor's doorbells are on another LAN; here that LAN is a fresh network namespace (only a
loopback interface) in which the neighbor's hub and simulated doorbells run. The few TCP ports
that cross between the two "LANs" (the homeserver one way; the neighbor hub's API and its
doorbells the other way, so the demo and you can reach them) are joined through Unix sockets in
the demo folder, which both namespaces see.

`scripts/demo.py` runs this file as `unshare --net -- ... demo_lan.py inside ...`; it runs the
neighbor's hub and doorbells until SIGTERM. `Bridge` is the side in the demo's namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

LOOPBACK = "127.0.0.1"
CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


def _joiner(
    connect: Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A connection handler that opens `connect()` and copies bytes both ways until both end."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            far_reader, far_writer = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, far_writer), _pipe(far_reader, writer))

    return handle


async def tcp_to_unix(port: int, path: Path) -> asyncio.Server:
    """Listen on 127.0.0.1:`port`; each connection continues to the Unix socket `path`."""
    return await asyncio.start_server(
        _joiner(lambda: asyncio.open_unix_connection(str(path))), LOOPBACK, port
    )


async def unix_to_tcp(path: Path, port: int) -> asyncio.Server:
    """Listen on the Unix socket `path`; each connection continues to 127.0.0.1:`port`."""
    await asyncio.to_thread(path.unlink, missing_ok=True)
    return await asyncio.start_unix_server(
        _joiner(lambda: asyncio.open_connection(LOOPBACK, port)), str(path)
    )


def socket_path(folder: Path, port: int) -> Path:
    """The Unix socket that carries TCP port `port` between the two namespaces."""
    return folder / f"port-{port}.sock"


class Bridge:
    """The demo namespace's side: the homeserver's port out, the neighbor's ports in.

    Runs its own event loop in a thread, so `scripts/demo.py` stays a plain blocking script.
    """

    def __init__(self, folder: Path, outward: list[int], inward: list[int]) -> None:
        self.folder, self.outward, self.inward = folder, outward, inward
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []

    def start(self) -> None:
        """Serve `outward` ports on Unix sockets, and `inward` sockets on our loopback ports."""
        self._thread.start()

        async def open_all() -> None:
            for port in self.outward:
                self._servers.append(await unix_to_tcp(socket_path(self.folder, port), port))
            for port in self.inward:
                self._servers.append(await tcp_to_unix(port, socket_path(self.folder, port)))

        asyncio.run_coroutine_threadsafe(open_all(), self._loop).result(10)

    def stop(self) -> None:
        """Close every listener and the loop."""

        async def close_all() -> None:
            for server in self._servers:
                server.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


async def _inside(args: argparse.Namespace, children: list[subprocess.Popen[bytes]]) -> int:
    """Bridge the ports while the neighbor's hub and doorbells run; on SIGTERM stop them."""
    servers = [await tcp_to_unix(port, socket_path(args.sockets, port)) for port in args.outward]
    servers += [await unix_to_tcp(socket_path(args.sockets, port), port) for port in args.inward]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    while not stopping.is_set() and all(child.poll() is None for child in children):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 0.5)
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
    for child in reversed(children):
        try:
            await asyncio.to_thread(child.wait, 30)
        except subprocess.TimeoutExpired:
            child.kill()
    for server in servers:
        server.close()
    return 0 if stopping.is_set() else 1


def main() -> int:
    """`demo_lan.py inside --sockets DIR --outward P --inward P ... -- HUB... -- DOORBELLS...`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("where", choices=["inside"])
    parser.add_argument("--sockets", type=Path, required=True, help="folder of the Unix sockets")
    parser.add_argument("--outward", type=int, action="append", default=[])
    parser.add_argument("--inward", type=int, action="append", default=[])
    parser.add_argument("--hub-log", type=Path, required=True)
    parser.add_argument("--doorbells-log", type=Path, required=True)
    argv = sys.argv[1:]
    first = argv.index("--")
    second = argv.index("--", first + 1)
    args = parser.parse_args(argv[:first])
    hub, doorbells = argv[first + 1 : second], argv[second + 1 :]
    with args.hub_log.open("ab") as hub_log, args.doorbells_log.open("ab") as doorbells_log:
        children = [
            subprocess.Popen(hub, stdout=hub_log, stderr=subprocess.STDOUT),  # noqa: S603
            subprocess.Popen(doorbells, stdout=doorbells_log, stderr=subprocess.STDOUT),  # noqa: S603
        ]
    return asyncio.run(_inside(args, children))


if __name__ == "__main__":
    raise SystemExit(main())
