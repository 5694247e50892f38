"""The hub exits within seconds of SIGTERM in every case, and a part that fails to stop does not
keep the others open (issue 15, item 10)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from doorward_hub.app import SHUTDOWN_DEADLINE, Hub
from doorward_hub.devices.doorbells import DoorbellManager

from .conftest import LOOPBACK, Process, free_port, hub_config, wait_for
from .test_processes import serve_args, wait_until_serving

type Start = Callable[[list[str], str], Process]

EXIT_WITHIN = 8.0


@pytest.mark.parametrize("remove_data", [False, True], ids=["normal", "data-folder-removed"])
async def test_sigterm_ends_the_process_within_seconds(
    tmp_path: Path, processes: Start, http: aiohttp.ClientSession, remove_data: bool
) -> None:
    port = free_port()
    hub = processes(serve_args(tmp_path / "hub", port), "hub")
    await wait_until_serving(http, hub, port)
    if remove_data:
        shutil.rmtree(tmp_path / "hub")
    started = time.monotonic()
    hub.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(hub.proc.wait, 30)
    took = time.monotonic() - started
    assert took < EXIT_WITHIN, f"exited after {took:.1f} s:\n{hub.output()}"
    assert code is not None


async def test_a_part_that_fails_to_stop_does_not_keep_the_others_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_stop(self: DoorbellManager) -> None:
        raise RuntimeError("doorbell links failed to close")

    monkeypatch.setattr(DoorbellManager, "close", broken_stop)
    hub = Hub(hub_config(tmp_path / "hub"))
    await hub.start()
    with pytest.raises(RuntimeError):
        await hub.stop()
    assert hub.session.closed
    with pytest.raises(ValueError, match="no active connection"):
        await hub.repositories.settings.get_value("hub_id")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://{LOOPBACK}:{hub.port}/api/v1/info")


async def test_a_stop_step_that_hangs_cannot_keep_the_process_alive(tmp_path: Path) -> None:
    """A stop step that never returns (here: the doorbell links) still ends in an exit, by the
    deadline, with status 70 for the supervisor."""
    port = free_port()
    launcher = (
        "import asyncio, runpy, sys;"
        "from doorward_hub.devices.doorbells import DoorbellManager;"
        "DoorbellManager.close = lambda self: asyncio.Event().wait();"
        "sys.argv[0] = 'doorward-hub';"
        "runpy.run_module('doorward_hub', run_name='__main__')"
    )
    log = tmp_path / "hub.log"
    with log.open("wb") as output:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", launcher, *serve_args(tmp_path / "hub", port),
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                assert proc.returncode is None, log.read_text()
                try:
                    async with http.get(f"http://{LOOPBACK}:{port}/api/v1/info") as response:
                        return response.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_for(up, timeout=30)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), SHUTDOWN_DEADLINE + 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 70, log.read_text()
    assert time.monotonic() - started < SHUTDOWN_DEADLINE + 3
    assert "did not stop in time" in log.read_text()
