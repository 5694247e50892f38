"""Presses on a station with several buttons: each button is its own visitor (event store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from doorward_hub.models import EventType
from doorward_hub.storage.repositories import Repositories

T0 = 1_800_000_000.0


@pytest.fixture
async def stored(tmp_path: Path) -> AsyncIterator[Repositories]:
    repositories = await Repositories.open(tmp_path / "hub.db")
    yield repositories
    await repositories.close()


async def press(stored: Repositories, button: str | None, time: float) -> tuple[int, bool]:
    recorded = await stored.events.record_event(
        doorbell_id="station",
        event_type=EventType.PRESS,
        time=time,
        device_time=None,
        device_key=None,
        cursor=None,
        merge_seconds=2.0,
        button=button,
    )
    assert recorded is not None
    return recorded[0].seq, recorded[1]


async def test_presses_merge_per_button(stored: Repositories) -> None:
    # Buttons as they arrive: new strings each time (equal, never the same object).
    first = "".join(["10", "1"])
    assert await press(stored, first, T0) == (1, False)
    assert await press(stored, "".join(["1", "01"]), T0 + 0.5) == (1, True), "same button"
    assert await press(stored, "".join(["10", "2"]), T0 + 1.0) == (2, False), "other button"
    assert await press(stored, None, T0 + 1.2) == (3, False), "no button is another visitor"
