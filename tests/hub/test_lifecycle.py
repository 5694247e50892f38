"""Starting and stopping the hub: what started is stopped, in reverse, even when a part fails."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from doorward_hub.app import Hub
from doorward_hub.core.backoff import Backoff
from doorward_hub.core.tasks import TaskSet

from .conftest import LOOPBACK, hub_config


def _accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((LOOPBACK, port)) == 0


async def test_a_failing_stop_does_not_keep_the_other_parts_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = Hub(hub_config(tmp_path / "hub"))
    await hub.start()
    port = hub.port
    assert _accepts_connections(port)

    async def broken_stop() -> None:
        raise RuntimeError("clip library failed to stop")

    # The recorder stops in the middle: parts before and after it must still be closed.
    monkeypatch.setattr(hub.recorder.library, "stop", broken_stop)
    with pytest.raises(RuntimeError, match="clip library failed to stop"):
        await hub.stop()
    assert hub.session.closed
    assert not _accepts_connections(port)
    with pytest.raises(ValueError, match=r"no active connection|Connection closed"):
        await hub.repositories.settings.get_value("hub_id")
    await hub.stop()  # stopping twice does nothing


async def test_a_failed_start_closes_what_it_opened(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        hub = Hub(hub_config(tmp_path / "hub", port=taken.getsockname()[1]))
        with pytest.raises(OSError, match="address already in use"):
            await hub.start()
    assert hub.session.closed
    assert hub.recorder.streams == {}
    with pytest.raises(ValueError, match=r"no active connection|Connection closed"):
        await hub.repositories.settings.get_value("hub_id")


async def test_a_hub_starts_again_on_the_same_data(tmp_path: Path) -> None:
    first = Hub(hub_config(tmp_path / "hub"))
    await first.start()
    await first.stop()
    second = Hub(hub_config(tmp_path / "hub"))
    await second.start()
    try:
        assert second.hub_id == first.hub_id
    finally:
        await second.stop()


def test_backoff_doubles_up_to_its_maximum_and_resets() -> None:
    backoff = Backoff(1.0, 5.0, jitter=0.0)
    assert [backoff.next_wait() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_wait() == 1.0
    backoff.hold_off()
    assert backoff.next_wait() == 5.0
    jittered = Backoff(10.0, 10.0, jitter=0.2)
    assert all(8.0 <= jittered.next_wait() <= 12.0 for _ in range(50))


async def test_backoff_wait_is_cut_short_by_a_wake_up() -> None:
    backoff = Backoff(30.0, 60.0)
    wake = asyncio.Event()
    waiting = asyncio.create_task(backoff.wait(wake))
    await asyncio.sleep(0)
    wake.set()
    await asyncio.wait_for(waiting, 5)
    assert backoff.delay == 30.0  # woken: the next failure starts from the beginning again


async def test_task_set_waits_for_tasks_spawned_while_waiting_and_cancels_the_rest() -> None:
    tasks = TaskSet()
    finished: list[str] = []

    async def second() -> None:
        finished.append("second")

    async def first() -> None:
        await asyncio.sleep(0.01)
        tasks.spawn(second())
        finished.append("first")

    tasks.spawn(first())
    await tasks.wait()
    assert (finished, len(tasks)) == (["first", "second"], 0)

    forever = tasks.spawn(asyncio.Event().wait())
    await tasks.wait(within=0.01)
    assert len(tasks) == 1
    await tasks.cancel()
    assert forever.cancelled()
    assert len(tasks) == 0
