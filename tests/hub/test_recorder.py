"""The recorder follows each doorbell's state and settings (a real hub, simulated doorbells):
what starts, keeps or stops recording. Short rolls, so that scripts/mutation can afford it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from doorward_hub.app import Hub
from doorward_hub.config import RecordingConfig
from doorward_simulator.device import CAPABILITIES, SimulatedDoorbell

from .conftest import LOOPBACK, hub_config, pair_client, wait_for
from .test_recording import Session

PRE, POST = 1.0, 1.5


class Recording(Session):
    """A hub with short rolls, a paired client on its WebSocket and one simulated doorbell."""

    door: SimulatedDoorbell

    async def doorbell_status(self, doorbell_id: str) -> str:
        status: str = (await self.get(f"doorbells/{doorbell_id}"))["status"]
        return status

    async def no_clip_within(self, seconds: float) -> None:
        with pytest.raises(TimeoutError):
            await self.next_message("clip", timeout=seconds)
        assert (await self.get("clips"))["clips"] == []


@pytest.fixture
async def recording(tmp_path: Path, http: aiohttp.ClientSession) -> AsyncIterator[Any]:
    """Start a hub with `RecordingConfig(**settings)` and the doorbell `device_id`."""
    hubs: list[Hub] = []
    doors: list[SimulatedDoorbell] = []

    async def start(
        device_id: str, capabilities: tuple[str, ...] = CAPABILITIES, **settings: Any
    ) -> Recording:
        config = RecordingConfig(pre_roll_seconds=PRE, post_roll_seconds=POST, **settings)
        hub = Hub(hub_config(tmp_path / "hub", recording=config))
        await hub.start()
        hubs.append(hub)
        token = await pair_client(
            http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code()
        )
        client = Recording(hub, http, token)
        client.ws = await http.ws_connect(f"{client.base}/ws", headers=client.headers)
        door = SimulatedDoorbell(
            device_id, "Front door", LOOPBACK, 0, interfaces=[LOOPBACK], capabilities=capabilities
        )
        await door.start()
        doors.append(door)
        client.door = door
        return client

    yield start
    for hub in hubs:
        await hub.stop()
    for door in doors:
        await door.stop()


async def test_a_hub_with_recording_switched_off_records_nothing(recording: Any) -> None:
    client: Recording = await recording("sim-off", enabled=False)

    async def online() -> bool:
        return "sim-off" in client.hub.doorbells.doorbells and (
            await client.doorbell_status("sim-off") == "online"
        )

    await wait_for(online, timeout=30)
    await asyncio.sleep(PRE + 1.0)  # long enough for a recorder to connect and fill its pre-roll
    assert client.door.video_viewers == 0, "nobody reads the doorbell's video"
    await client.door.press()
    pressed = (await client.next_message("event"))["event"]
    snapshot = await client.next_message("snapshot")  # the press is handled in full
    assert snapshot["seq"] == pressed["seq"]
    status, body = await client.call("POST", "doorbells/sim-off/record", json={"duration": 1})
    assert status == 409
    assert "disabled" in body["message"]
    await client.no_clip_within(PRE + POST + 1.0)


async def test_motion_starts_a_motion_clip_and_its_end_starts_none(recording: Any) -> None:
    client: Recording = await recording("sim-motion")
    await client.buffering("sim-motion", PRE)
    await client.door.motion(True)
    started = (await client.next_message("event"))["event"]
    assert started["type"] == "motion_start"
    clip = (await client.next_message("clip"))["clip"]
    assert (clip["trigger"], clip["trigger_seq"]) == ("motion", started["seq"])
    await client.door.motion(False)
    assert (await client.next_message("event"))["event"]["type"] == "motion_stop"
    with pytest.raises(TimeoutError):
        await client.next_message("clip", timeout=PRE + POST + 1.0)
    assert [c["id"] for c in (await client.get("clips"))["clips"]] == [clip["id"]]


async def test_settings_changed_mid_clip_keep_the_clip(recording: Any) -> None:
    """Renaming the doorbell leaves the clip being written alone; switching audio on restarts
    the stream, and what was recorded until then is kept (only privacy mode discards it)."""
    client: Recording = await recording("sim-settings")
    await client.buffering("sim-settings", PRE)
    pressed = float((await client.door.press())["time"])
    await asyncio.sleep(0.3)
    status, _ = await client.call("PATCH", "doorbells/sim-settings", json={"name": "Porch"})
    assert status == 200
    clip = (await client.next_message("clip"))["clip"]
    assert clip["end_device_time"] >= pressed + POST - 0.2, "the rename cut the clip short"
    assert len((await client.get("clips"))["clips"]) == 1

    await client.buffering("sim-settings", PRE)
    await asyncio.sleep(2.5)  # past the press merge window
    await client.door.press()
    await asyncio.sleep(0.3)
    status, _ = await client.call("PATCH", "doorbells/sim-settings", json={"record_audio": True})
    assert status == 200
    kept = (await client.next_message("clip"))["clip"]
    assert kept["trigger"] == "press"
    assert client.hub.recorder.library.path(kept["file_name"]).exists()
    assert len((await client.get("clips"))["clips"]) == 2


async def test_a_forgotten_doorbell_is_recorded_again_only_once_approved(recording: Any) -> None:
    client: Recording = await recording("sim-forget")
    await client.buffering("sim-forget", PRE)
    status, _ = await client.call("DELETE", "doorbells/sim-forget")
    assert status == 204
    await wait_for(lambda: client.door.video_viewers == 0, timeout=10)
    # Still on the LAN: offered again, waiting for approval, and not recorded.
    await wait_for(lambda: "sim-forget" in client.hub.doorbells.doorbells, timeout=10)
    assert await client.doorbell_status("sim-forget") == "pending_approval"
    status, body = await client.call("POST", "doorbells/sim-forget/record", json={"duration": 1})
    assert status == 409
    assert "no live video" in body["message"]

    status, _ = await client.call("POST", "doorbells/sim-forget/approve")
    assert status == 200
    await client.buffering("sim-forget", PRE)
    await client.door.press()
    clip = (await client.next_message("clip"))["clip"]
    assert clip["doorbell_id"] == "sim-forget"


async def test_a_doorbell_without_a_camera_is_not_recorded_and_still_rings(
    recording: Any,
) -> None:
    client: Recording = await recording("sim-nocam", ("press", "motion"))

    async def online() -> bool:
        return "sim-nocam" in client.hub.doorbells.doorbells and (
            await client.doorbell_status("sim-nocam") == "online"
        )

    await wait_for(online, timeout=30)
    await client.door.press()
    assert (await client.next_message("event"))["event"]["type"] == "press"
    assert await client.doorbell_status("sim-nocam") == "online"
    assert client.door.video_viewers == 0
    status, body = await client.call("POST", "doorbells/sim-nocam/record", json={"duration": 1})
    assert status == 409
    assert "no live video" in body["message"]
