"""Edge cases: what the hub answers to wrong requests, and messages it would never send.

The API client is exercised against the real hub (unknown doorbell, bad query, revoked or
missing token, wrong content type). Malformed or out-of-order push messages cannot be
produced by a correct hub, so those are handed straight to the connection's message handler.
"""

import ast
from pathlib import Path
from unittest.mock import patch

import aiohttp
import pytest
from aiohttp import web
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from custom_components.doorward import api
from custom_components.doorward.api import (
    API_PREFIX,
    Doorbell,
    DoorwardApiError,
    DoorwardAuthenticationError,
    DoorwardClient,
    DoorwardConnectionError,
    DoorwardNotFoundError,
    HubEvent,
    HubInfo,
    parse,
)
from custom_components.doorward.data import decode_message
from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, LOOPBACK, HubRunner, free_port, track_events, wait_for

RING = "event.front_door_doorbell"

DOORBELL = {
    "id": "sim-x",
    "name": "X",
    "model": "M",
    "driver": "doorward",
    "host": "127.0.0.1",
    "port": 1,
    "capabilities": [],
    "status": "online",
    "online": True,
    "error": None,
    "last_seen": None,
    "privacy_mode": False,
    "firmware": None,
}


async def test_client_against_real_hub(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell
) -> None:
    """The hub's error answers map to the client's exceptions."""
    session = async_get_clientsession(hass)
    token = await hub.token()
    client = DoorwardClient(session, LOOPBACK, hub.port, token)

    with pytest.raises(DoorwardNotFoundError, match="unknown_doorbell"):
        await client.set_privacy_mode("sim-nobody", True)
    with pytest.raises(DoorwardNotFoundError, match="no_snapshot"):
        await client.event_snapshot(999999)
    with pytest.raises(DoorwardApiError, match="HTTP 400 invalid_request") as err:
        await client.events(limit=100000)
    assert err.value.status == 400
    assert err.value.code == "invalid_request"
    with pytest.raises(DoorwardApiError, match="expected JSON"):
        await client._json("GET", f"/doorbells/{FRONT}/snapshot")
    with pytest.raises(DoorwardApiError, match="expected a JPEG"):
        await client._jpeg("/info")
    with pytest.raises(DoorwardConnectionError, match="WebSocket refused by the hub: HTTP 400"):
        await client.ws_connect(-1, 30)

    revoked = DoorwardClient(session, LOOPBACK, hub.port, "not-a-token")
    with pytest.raises(DoorwardAuthenticationError, match="unauthorized"):
        await revoked.doorbells()
    with pytest.raises(DoorwardAuthenticationError, match="refused the token"):
        await revoked.ws_connect(0, 30)

    anonymous = DoorwardClient(session, LOOPBACK, hub.port)
    assert (await anonymous.info()).hub_id == hub.hub_id
    with pytest.raises(DoorwardAuthenticationError, match="no token"):
        await anonymous.doorbells()
    with pytest.raises(DoorwardAuthenticationError, match="no token"):
        anonymous.video_url(FRONT)

    nobody = DoorwardClient(session, LOOPBACK, free_port(), token)
    with pytest.raises(DoorwardConnectionError):
        await nobody.ws_connect(0, 30)
    with (
        patch.object(session, "request", side_effect=TimeoutError),
        pytest.raises(DoorwardConnectionError, match="timed out"),
    ):
        await client.info()


def test_parse_rejects_malformed_objects() -> None:
    """Missing or mistyped fields are API errors, not crashes."""
    with pytest.raises(DoorwardApiError, match="not an object"):
        parse(Doorbell, ["not", "an", "object"])
    with pytest.raises(DoorwardApiError, match="name is not a string"):
        parse(HubInfo, {"hub_id": "hub-1", "name": 5, "version": "1", "api_version": 1})
    with pytest.raises(DoorwardApiError, match="api_version is not an integer"):
        parse(HubInfo, {"hub_id": "hub-1", "name": "n", "version": "1", "api_version": True})
    with pytest.raises(DoorwardApiError, match="malformed HubEvent"):
        parse(HubEvent, {"seq": 1})
    event = parse(
        HubEvent,
        {"seq": 1, "doorbell_id": "d", "type": "press", "time": "t", "device_time": "x"},
    )
    assert event.device_time is None
    assert event.presses == 1
    assert event.has_snapshot is False
    doorbell = parse(Doorbell, {**DOORBELL, "name": None, "port": "1"})
    assert doorbell.name == "sim-x"
    assert doorbell.port is None


def test_decode_message() -> None:
    """Only JSON objects in text frames are messages."""
    text = aiohttp.WSMsgType.TEXT
    assert decode_message(aiohttp.WSMessage(text, '{"type": "x"}', None)) == {"type": "x"}
    assert decode_message(aiohttp.WSMessage(text, "not json", None)) is None
    assert decode_message(aiohttp.WSMessage(text, "[1, 2]", None)) is None
    assert decode_message(aiohttp.WSMessage(aiohttp.WSMsgType.BINARY, b"{}", None)) is None


async def test_unexpected_messages(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Malformed, unknown, repeated and out-of-order messages change nothing."""
    data = config_entry.runtime_data
    rings = track_events(hass, RING)
    await doorbell.press()
    await wait_for(lambda: rings and data.press_snapshots)
    last_seq, snapshot = data.last_seq, data.press_snapshots[FRONT]

    data.async_handle_message({"type": "event", "event": {"seq": "one"}})
    data.async_handle_message({"type": "doorbell", "doorbell": None})
    data.async_handle_message({"type": "doorbell_removed"})
    data.async_handle_message({"type": "snapshot", "seq": "1"})
    data.async_handle_message({"type": "something_new"})
    # The same event again (a repeat), and an older snapshot.
    data.async_handle_message(
        {
            "type": "event",
            "event": {"seq": last_seq, "doorbell_id": FRONT, "type": "press", "time": "t"},
        }
    )
    data.async_handle_message({"type": "snapshot", "seq": snapshot.seq - 1, "doorbell_id": FRONT})
    # Removing a doorbell the hub never had.
    data.async_handle_message({"type": "doorbell_removed", "doorbell_id": "sim-nobody"})
    await hass.async_block_till_done()

    assert len(rings) == 1
    assert data.last_seq == last_seq
    assert data.press_snapshots[FRONT] == snapshot
    assert caplog.text.count("Ignoring a malformed") == 4

    # Only presses have press pictures; the hub's motion seqs are remembered as not presses.
    await doorbell.motion(True)
    await wait_for(lambda: data.last_seq > last_seq)
    data.async_handle_message({"type": "snapshot", "seq": data.last_seq, "doorbell_id": FRONT})
    assert data.press_snapshots[FRONT] == snapshot


async def test_hello_of_an_upgraded_or_reset_hub(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """A new hub version updates the device; a hub with a shorter history is followed."""
    from homeassistant.helpers import device_registry as dr

    data = config_entry.runtime_data
    await doorbell.press()
    await wait_for(lambda: data.last_seq > 0)
    await data._async_handle_hello(
        {"type": "hello", "hub_id": hub.hub_id, "version": "9.9.9", "last_seq": 0}
    )
    device = dr.async_get(hass).async_get(data.hub_device_id)
    assert device.sw_version == "9.9.9"
    assert data.last_seq == 0
    with pytest.raises(DoorwardApiError, match="not hello"):
        await data._async_handle_hello({"type": "event"})


async def test_recent_events_are_bounded(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """Only the latest events are remembered for matching snapshots to presses."""
    data = config_entry.runtime_data
    with patch("custom_components.doorward.data.RECENT_EVENTS", 2):
        for seq in range(data.last_seq + 1, data.last_seq + 4):
            data.async_handle_message(
                {
                    "type": "event",
                    "event": {
                        "seq": seq,
                        "doorbell_id": "sim-gone",
                        "type": "motion_start",
                        "time": "t",
                    },
                }
            )
    assert len(data._recent_events) == 2


async def test_client_rejects_answers_that_are_not_api_v1(hass: HomeAssistant) -> None:
    """Another HTTP server at the hub's address: what it answers is refused, never trusted.

    A real server on loopback answers each path as set in `answers`: a newer API version,
    lists where objects belong, mistyped fields, bodies that are not the JSON they claim.
    """
    answers: dict[str, web.Response] = {}

    async def answer(request: web.Request) -> web.Response:
        return answers[request.path.removeprefix(API_PREFIX)]

    def json_answer(body: object, status: int = 200) -> web.Response:
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOOPBACK, port).start()
    try:
        client = DoorwardClient(async_get_clientsession(hass), LOOPBACK, port, "token")
        answers["/info"] = json_answer(
            {"hub_id": "h", "name": "n", "version": "2.0", "api_version": 2}
        )
        with pytest.raises(DoorwardApiError, match="API version 2, not 1"):
            await client.info()
        answers["/doorbells"] = json_answer([])
        with pytest.raises(DoorwardApiError, match="malformed doorbell list"):
            await client.doorbells()
        answers["/events"] = json_answer({"events": "none"})
        with pytest.raises(DoorwardApiError, match="malformed event page"):
            await client.events()
        answers["/events"] = json_answer({"events": [], "last_seq": "7"})
        with pytest.raises(DoorwardApiError, match="malformed event page"):
            await client.events()
        answers["/clips"] = json_answer({"clips": None})
        with pytest.raises(DoorwardApiError, match="malformed clip page"):
            await client.clips()
        answers["/clips/1"] = web.Response(body=b"{not json", content_type="application/json")
        with pytest.raises(DoorwardApiError, match="invalid JSON"):
            await client.clip(1)
        answers["/clips/1"] = web.Response(
            body=b"{not json", status=400, content_type="application/json"
        )
        with pytest.raises(DoorwardApiError, match=r"^HTTP 400$"):
            await client.clip(1)
        answers["/doorbells/x/record"] = json_answer({"error": "boom", "message": "m"}, 503)
        with pytest.raises(DoorwardConnectionError, match="HTTP 503 boom: m"):
            await client.record("x", 10)
        answers["/clips/2/video"] = json_answer({"error": "unauthorized"}, 401)
        with pytest.raises(DoorwardAuthenticationError):
            async with client.open_stream("/clips/2/video"):
                pytest.fail("an error answer is not handed over")
    finally:
        await runner.cleanup()


def test_client_does_not_import_home_assistant() -> None:
    """api.py stays a plain aiohttp client, ready to become a library of its own."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(Path(api.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported
    assert not {name for name in imported if name.split(".")[0] == "homeassistant"}
    assert not {name for name in imported if name.startswith(".")}
