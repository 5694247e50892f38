"""The HTTP API of a simulated doorbell: info, pairing, authentication, errors, snapshot."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import aiohttp
import pytest

from doorward_simulator import SimulatedDoorbell

from .conftest import API, LOOPBACK, bearer, ffprobe, pair, post_sim


async def _status_and_json(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: object
) -> tuple[int, dict[str, object]]:
    async with session.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def test_info_describes_the_device(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    status, info = await _status_and_json(session, "GET", f"{doorbell.url}{API}/info")
    assert status == 200
    assert info == {
        "id": doorbell.device_id,
        "name": "Front door",
        "model": "Doorward Simulator",
        "firmware": info["firmware"],
        "protocol": 1,
        "capabilities": ["press", "motion", "snapshot", "video"],
        "paired": False,
    }
    await pair(session, doorbell)
    _, info = await _status_and_json(session, "GET", f"{doorbell.url}{API}/info")
    assert info["paired"] is True
    assert doorbell.paired


async def test_endpoints_need_the_token(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    snapshot = f"{doorbell.url}{API}/snapshot"
    status, body = await _status_and_json(session, "GET", snapshot)
    assert (status, body["error"]) == (401, "unauthorized")
    token = await pair(session, doorbell)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", token)  # URL-safe, at least 128 bits
    for headers in (bearer("wrong"), {"Authorization": token}, {"Authorization": "Bearer"}):
        async with session.get(snapshot, headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await response.json())["error"] == "unauthorized"
    async with session.get(snapshot, headers=bearer(token)) as response:
        assert response.status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(f"{doorbell.url}{API}/events", headers=bearer("wrong"))
    assert refused.value.status == 401
    async with session.get(f"{doorbell.url}{API}/video") as response:
        assert response.status == 401


async def test_pairing_is_trust_on_first_use_with_one_token(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    pair_url, snapshot = f"{doorbell.url}{API}/pair", f"{doorbell.url}{API}/snapshot"
    first = await pair(session, doorbell, "hub-a")
    status, body = await _status_and_json(
        session, "POST", pair_url, json={"hub_id": "hub-b", "hub_name": "B"}
    )
    assert (status, body["error"]) == (409, "already_paired")
    assert isinstance(body["message"], str)

    # The same hub pairs again: a new token, and the old one stops working.
    second = await pair(session, doorbell, "hub-a")
    assert second != first
    async with session.get(snapshot, headers=bearer(first)) as response:
        assert response.status == 401
    async with session.get(snapshot, headers=bearer(second)) as response:
        assert response.status == 200


async def test_pairing_window_lets_another_hub_take_over(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    pair_url, snapshot = f"{doorbell.url}{API}/pair", f"{doorbell.url}{API}/snapshot"
    token_a = await pair(session, doorbell, "hub-a")
    state = await post_sim(session, doorbell, "pairing-window")
    assert state["pairing_window_open"] is True
    assert isinstance(state["pairing_window_closes"], float)
    token_b = await pair(session, doorbell, "hub-b")
    async with session.get(snapshot, headers=bearer(token_a)) as response:
        assert response.status == 401
    async with session.get(snapshot, headers=bearer(token_b)) as response:
        assert response.status == 200
    # Pairing closed the window: hub A is now the other hub.
    assert not doorbell.pairing_window_open
    status, body = await _status_and_json(
        session, "POST", pair_url, json={"hub_id": "hub-a", "hub_name": "A"}
    )
    assert (status, body["error"]) == (409, "already_paired")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{API}/pair", b"{not json"),
        (f"{API}/pair", b"\xff\xfe"),
        (f"{API}/pair", b"[]"),
        (f"{API}/pair", b'{"hub_name": "no id"}'),
        (f"{API}/pair", b'{"hub_id": "", "hub_name": "empty id"}'),
        (f"{API}/pair", b'{"hub_id": 7, "hub_name": "number"}'),
        (f"{API}/pair", b'{"hub_id": "hub-a"}'),
        ("/sim/motion", b""),
        ("/sim/motion", b'{"state": "sideways"}'),
        ("/sim/misbehave", b'{"mode": "chaos"}'),
    ],
)
async def test_bad_requests_get_json_400(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession, path: str, body: bytes
) -> None:
    status, answer = await _status_and_json(
        session,
        "POST",
        f"{doorbell.url}{path}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert status == 400
    assert answer["error"] == "bad_request"
    assert answer["message"]
    assert not doorbell.paired


async def test_unknown_paths_methods_and_queries_get_json_errors(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    status, body = await _status_and_json(session, "GET", f"{doorbell.url}{API}/nothing")
    assert (status, body["error"]) == (404, "not_found")
    status, body = await _status_and_json(session, "GET", f"{doorbell.url}{API}/pair")
    assert (status, body["error"]) == (405, "method_not_allowed")
    big = io.BytesIO(b'{"hub_id": "' + b"x" * 2_000_000 + b'", "hub_name": ""}')
    status, body = await _status_and_json(session, "POST", f"{doorbell.url}{API}/pair", data=big)
    assert (status, body["error"]) == (413, "too_large")
    token = await pair(session, doorbell)
    events = f"{doorbell.url}{API}/events"
    status, body = await _status_and_json(session, "GET", events, headers=bearer(token))
    assert (status, body["error"]) == (400, "bad_request")  # not a WebSocket upgrade
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(f"{events}?after=-1", headers=bearer(token))
    assert refused.value.status == 400


async def test_sim_controls_answer_with_the_event_or_state(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession
) -> None:
    press = await post_sim(session, doorbell, "press")
    assert press == {"type": "event", "event": "press", "seq": 1, "time": press["time"]}
    start = await post_sim(session, doorbell, "motion", {"state": "start"})
    stop = await post_sim(session, doorbell, "motion", {"state": "stop"})
    assert (start["event"], start["seq"], stop["event"], stop["seq"]) == (
        "motion_start",
        2,
        "motion_stop",
        3,
    )
    assert press["time"] <= start["time"] <= stop["time"]
    assert await post_sim(session, doorbell, "misbehave", {"mode": "garbage"}) == {
        "mode": "garbage"
    }
    assert await post_sim(session, doorbell, "misbehave", {"mode": "none"}) == {"mode": "none"}
    assert (await doorbell.press())["seq"] == 4


async def test_snapshot_is_a_jpeg_that_ffprobe_reads(
    doorbell: SimulatedDoorbell, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    token = await pair(session, doorbell)
    async with session.get(f"{doorbell.url}{API}/snapshot", headers=bearer(token)) as response:
        assert response.status == 200
        assert response.content_type == "image/jpeg"
        jpeg = await response.read()
    assert jpeg.startswith(b"\xff\xd8")
    assert jpeg.endswith(b"\xff\xd9")
    assert jpeg[6:11] == b"JFIF\x00"
    path = tmp_path / "snapshot.jpg"
    await asyncio.to_thread(path.write_bytes, jpeg)
    probe = await ffprobe(str(path), "stream=codec_name,width,height")
    assert probe["streams"] == [{"codec_name": "mjpeg", "width": 320, "height": 240}]


async def test_listens_on_ipv6_loopback(session: aiohttp.ClientSession) -> None:
    doorbell = SimulatedDoorbell("sim-ipv6", "Back door", "::1", interfaces=[LOOPBACK])
    await doorbell.start()
    try:
        assert doorbell.url == f"http://[::1]:{doorbell.port}"
        status, info = await _status_and_json(session, "GET", f"{doorbell.url}{API}/info")
        assert (status, info["id"]) == (200, "sim-ipv6")
    finally:
        await doorbell.stop()
