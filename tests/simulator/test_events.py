"""The events WebSocket: hello, live events, replay by boot and seq, garbage mode, heartbeat."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import aiohttp

from doorward_simulator import SimulatedDoorbell

from .conftest import API, LOOPBACK, bearer, pair, post_sim, receive_json

EVENT_TYPES = {"press", "motion_start", "motion_stop"}


def _connect(
    session: aiohttp.ClientSession, doorbell: SimulatedDoorbell, token: str, query: str = ""
) -> Any:
    url = f"{doorbell.url}{API}/events" + (f"?{query}" if query else "")
    return session.ws_connect(url, headers=bearer(token))


def _is_valid_event(message: aiohttp.WSMessage) -> bool:
    """True if `message` is an event message exactly as the protocol describes it."""
    if message.type is not aiohttp.WSMsgType.TEXT:
        return False
    try:
        data = json.loads(message.data)
    except ValueError:
        return False
    return (
        isinstance(data, dict)
        and data.get("type") == "event"
        and data.get("event") in EVENT_TYPES
        and type(data.get("seq")) is int
        and isinstance(data.get("time"), float)
        and math.isfinite(data["time"])
    )


async def test_hello_then_live_events(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    token = await pair(session, doorbell)
    async with _connect(session, doorbell, token) as ws:
        hello = await receive_json(ws)
        assert hello == {
            "type": "hello",
            "id": doorbell.device_id,
            "boot": doorbell.boot,
            "seq": 0,
            "time": hello["time"],
        }
        pressed = await post_sim(session, doorbell, "press")
        assert await receive_json(ws) == pressed
        started = await doorbell.motion(True)
        stopped = await doorbell.motion(False)
        assert await receive_json(ws) == started
        assert await receive_json(ws) == stopped
        assert [pressed["seq"], started["seq"], stopped["seq"]] == [1, 2, 3]
        assert hello["time"] <= pressed["time"] <= started["time"] <= stopped["time"]


async def test_reconnect_replays_missed_events_of_the_same_boot(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    token = await pair(session, doorbell)
    async with _connect(session, doorbell, token) as ws:
        boot = (await receive_json(ws))["boot"]
        await doorbell.press()
        seen = (await receive_json(ws))["seq"]
    missed = [await doorbell.press(), await doorbell.motion(True)]

    async with _connect(session, doorbell, token, f"boot={boot}&after={seen}") as ws:
        assert (await receive_json(ws))["seq"] == 3
        assert [await receive_json(ws), await receive_json(ws)] == missed
        live = await doorbell.press()
        assert await receive_json(ws) == live

    # Another boot id (the device restarted since): no replay, only live events.
    async with _connect(session, doorbell, token, "boot=old-boot&after=0") as ws:
        assert (await receive_json(ws))["seq"] == 4
        live = await doorbell.press()
        assert await receive_json(ws) == live


async def test_replay_keeps_at_least_the_last_100_events(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    token = await pair(session, doorbell)
    for _ in range(150):
        await doorbell.press()
    async with _connect(session, doorbell, token, f"boot={doorbell.boot}") as ws:
        assert (await receive_json(ws))["seq"] == 150
        replayed = [(await receive_json(ws))["seq"] for _ in range(150)]
    assert replayed == list(range(1, 151))


async def test_garbage_mode_sends_malformed_messages_instead_of_events(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    token = await pair(session, doorbell)
    async with _connect(session, doorbell, token) as ws:
        await receive_json(ws)
        await post_sim(session, doorbell, "misbehave", {"mode": "garbage"})
        for _ in range(7):
            await doorbell.press()
        garbage = [await asyncio.wait_for(ws.receive(), 10) for _ in range(7)]
        assert not any(_is_valid_event(message) for message in garbage)
        kinds = {message.type for message in garbage}
        assert kinds == {aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY}
        texts = [m.data for m in garbage if m.type is aiohttp.WSMsgType.TEXT]
        assert any(not text.startswith(("{", "[")) for text in texts)  # not JSON at all
        assert any('"on_fire"' in text for text in texts)  # an unknown event type

        doorbell.misbehave("none")
        good = await doorbell.press()
        message = await asyncio.wait_for(ws.receive(), 10)
        assert _is_valid_event(message)
        assert json.loads(message.data) == good

    # The events happened all the same: a replay delivers them properly.
    async with _connect(session, doorbell, token, f"boot={doorbell.boot}&after=0") as ws:
        await receive_json(ws)
        replayed = [await asyncio.wait_for(ws.receive(), 10) for _ in range(8)]
    assert all(_is_valid_event(message) for message in replayed)
    assert [json.loads(m.data)["seq"] for m in replayed] == list(range(1, 9))


async def test_device_pings_the_hub(session: aiohttp.ClientSession) -> None:
    doorbell = SimulatedDoorbell(
        "sim-heartbeat", "Heartbeat", LOOPBACK, interfaces=[LOOPBACK], heartbeat=0.2
    )
    await doorbell.start()
    try:
        token = await pair(session, doorbell)
        url = f"{doorbell.url}{API}/events"
        async with session.ws_connect(url, headers=bearer(token), autoping=False) as ws:
            await receive_json(ws)
            message = await asyncio.wait_for(ws.receive(), 10)
            assert message.type is aiohttp.WSMsgType.PING
    finally:
        await doorbell.stop()


async def test_new_token_and_stop_close_event_sockets(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    token = await pair(session, doorbell)
    async with _connect(session, doorbell, token) as ws:
        await receive_json(ws)
        await pair(session, doorbell)  # the same hub pairs again: the old token is gone
        message = await asyncio.wait_for(ws.receive(), 10)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == aiohttp.WSCloseCode.POLICY_VIOLATION

    token = await pair(session, doorbell)
    async with _connect(session, doorbell, token) as ws:
        await receive_json(ws)
        await doorbell.stop()
        message = await asyncio.wait_for(ws.receive(), 10)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == aiohttp.WSCloseCode.GOING_AWAY


async def test_restart_is_a_reboot(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    token = await pair(session, doorbell)
    await doorbell.press()
    old_boot, port = doorbell.boot, doorbell.port
    await doorbell.stop()
    await doorbell.start()
    assert (doorbell.port, doorbell.paired) == (port, True)
    assert doorbell.boot != old_boot
    async with _connect(session, doorbell, token, f"boot={old_boot}&after=0") as ws:
        hello = await receive_json(ws)
        assert (hello["boot"], hello["seq"]) == (doorbell.boot, 0)
        pressed = await doorbell.press()
        assert pressed["seq"] == 1
        assert await receive_json(ws) == pressed
