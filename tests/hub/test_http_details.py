"""HTTP details found by probing the hub from outside (issue 15, items 4, 5 and 12): each answer
is a clear 4xx with a reason, never a 500, and agrees with the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from doorward_hub.app import Hub
from doorward_simulator.device import SimulatedDoorbell

from .conftest import LOOPBACK, wait_for

BIG = 2**63  # one past SQLite's largest integer


def base(hub: Hub) -> str:
    return f"http://{LOOPBACK}:{hub.port}/api/v1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _error(response: aiohttp.ClientResponse) -> str:
    """The `error` code of an error answer (every error is JSON)."""
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error", "message"}
    assert body["message"]
    return str(body["error"])


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/info", "GET"),
        ("POST", "/doorbells", "GET"),
        ("PUT", "/doorbells/x", "DELETE,GET,PATCH"),
        ("GET", "/pair", "POST"),
        ("POST", "/clips/1", "DELETE,GET"),
        ("HEAD", "/info", "GET"),
    ],
)
async def test_405_names_the_allowed_methods(
    hub: Hub, http: aiohttp.ClientSession, token: str, *, method: str, path: str, allow: str
) -> None:
    async with http.request(method, f"{base(hub)}{path}", headers=auth(token)) as response:
        assert response.status == 405
        assert sorted(response.headers["Allow"].split(",")) == allow.split(",")
        if method != "HEAD":
            assert await _error(response) == "method_not_allowed"


async def test_405_needs_no_token(hub: Hub, http: aiohttp.ClientSession) -> None:
    """The methods a path allows are in the public document; unknown paths still need a token."""
    async with http.request("TRACE", f"{base(hub)}/doorbells") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET"
    async with http.get(f"{base(hub)}/no-such-path") as response:
        assert response.status == 401


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=bogus"],
)
async def test_json_bodies_only_as_application_json_in_utf8(
    hub: Hub, http: aiohttp.ClientSession, content_type: str
) -> None:
    body = json.dumps({"code": "ABCD-EFGH"}).encode()
    headers = {"Content-Type": content_type}
    async with http.post(f"{base(hub)}/pair", data=body, headers=headers) as response:
        assert response.status == 415
        assert await _error(response) == "unsupported_media_type"


async def test_a_body_in_another_encoding_is_refused(hub: Hub, http: aiohttp.ClientSession) -> None:
    headers = {"Content-Type": "application/json; charset=latin-1"}
    async with http.post(f"{base(hub)}/pair", data=b'{"code": "\xe9"}', headers=headers) as r:
        assert r.status == 415
    headers = {"Content-Type": "application/json"}
    async with http.post(f"{base(hub)}/pair", data=b'{"code": "\xe9"}', headers=headers) as r:
        assert r.status == 400
        assert await _error(r) == "invalid_json"


async def test_the_query_token_is_taken_only_where_documented(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    for path in ("/doorbells", "/tokens", "/events", "/clips", "/clips/1"):
        async with http.get(f"{base(hub)}{path}", params={"token": token}) as response:
            assert response.status == 401, path
    async with http.get(f"{base(hub)}/clips/1/video", params={"token": token}) as response:
        assert response.status == 404  # past authentication: there is no clip 1
    async with http.ws_connect(f"{base(hub)}/ws", params={"token": token}) as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello"


async def _raw(hub: Hub, request: bytes) -> tuple[int, bytes]:
    """Send a hand-made HTTP/1.1 request (headers aiohttp's client would not send)."""
    reader, writer = await asyncio.open_connection(LOOPBACK, hub.port)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("token", [b"\xff\xfe\xfd", b"caf\xc3\xa9", b"\xed\xa0\x80"])
async def test_a_token_that_is_not_ascii_is_refused_with_401(hub: Hub, token: bytes) -> None:
    status, body = await _raw(
        hub,
        b"GET /api/v1/doorbells HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n"
        b"Authorization: Bearer " + token + b"\r\n\r\n",
    )
    assert status == 401
    assert json.loads(body)["error"] == "unauthorized"


@pytest.mark.parametrize(
    "path",
    [
        f"/clips/{BIG}",
        f"/clips/{BIG}/video",
        f"/clips/{BIG}/thumbnail",
        "/clips/0",
        "/clips/-1",
        "/clips/%D9%A1%D9%A2",  # Arabic-Indic digits: not an id
        "/clips/%EF%BC%91",  # a full-width 1
        "/clips/1.0",
        "/events/" + "9" * 300 + "/snapshot",
        "/events/%D9%A1/snapshot",
        f"/clips?before={BIG}",
        "/clips?before=0",
        f"/events?after={BIG}",
        "/events?after=%D9%A1",
        "/events?limit=501",
        "/clips?since=nan",
        "/clips?since=inf",
        "/clips?until=1e999",
        "/clips?since=%D9%A1",
        "/clips?trigger=ring",
        f"/ws?after={BIG}",
        "/ws?after=-1",
    ],
)
async def test_ids_and_numbers_out_of_range_are_400(
    hub: Hub, http: aiohttp.ClientSession, token: str, path: str
) -> None:
    async with http.get(f"{base(hub)}{path}", headers=auth(token)) as response:
        assert response.status == 400, path
        assert await _error(response) == "invalid_request"


async def test_delete_of_a_huge_clip_id_is_400(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    async with http.delete(f"{base(hub)}/clips/{BIG}", headers=auth(token)) as response:
        assert response.status == 400


async def test_a_websocket_with_a_bad_after_is_refused_before_the_upgrade(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(f"{base(hub)}/ws", params={"after": str(BIG)}, headers=auth(token))
    assert refused.value.status == 400


@pytest.fixture
async def doorbell(hub: Hub) -> AsyncIterator[str]:
    """A simulated doorbell the hub has found; its id."""
    door = SimulatedDoorbell("sim-edges", "Edges", LOOPBACK, 0, interfaces=[LOOPBACK])
    await door.start()
    try:
        await wait_for(lambda: "sim-edges" in hub.doorbells.doorbells, timeout=30)
        yield "sim-edges"
    finally:
        await door.stop()


PATCH_CASES: list[tuple[dict[str, object], str]] = [
    ({"name": ""}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"name": 5}, "name"),
    ({"retention_days": 1e-300}, "retention_days"),
    ({"retention_days": 0}, "retention_days"),
    ({"retention_days": 3651}, "retention_days"),
    ({"retention_days": True}, "retention_days"),
    ({"privacy_mode": "yes"}, "privacy_mode"),
    ({"colour": "red"}, "colour"),
]


async def test_patch_constraints(
    hub: Hub, http: aiohttp.ClientSession, token: str, doorbell: str
) -> None:
    url = f"{base(hub)}/doorbells/{doorbell}"
    for body, reason in PATCH_CASES:
        async with http.patch(url, json=body, headers=auth(token)) as response:
            assert response.status == 400, body
            assert reason in (await response.json())["message"], body


async def test_a_lone_surrogate_in_a_name_is_400_not_500(
    hub: Hub, http: aiohttp.ClientSession, token: str, doorbell: str
) -> None:
    headers = {**auth(token), "Content-Type": "application/json"}
    body = b'{"name": "Front \\ud800 door"}'  # valid JSON, not valid Unicode text
    url = f"{base(hub)}/doorbells/{doorbell}"
    async with http.patch(url, data=body, headers=headers) as response:
        assert response.status == 400
        assert "surrogate" in (await response.json())["message"]
    pair = b'{"code": "ABCD-EFGH", "client_name": "\\udfff"}'
    async with http.post(f"{base(hub)}/pair", data=pair, headers=headers) as response:
        assert response.status == 400


async def test_retention_days_null_returns_to_the_hub_default(
    hub: Hub, http: aiohttp.ClientSession, token: str, doorbell: str
) -> None:
    url = f"{base(hub)}/doorbells/{doorbell}"
    async with http.patch(url, json={"retention_days": 2.5}, headers=auth(token)) as response:
        assert (await response.json())["retention_days"] == 2.5
    async with http.patch(url, json={"retention_days": None}, headers=auth(token)) as response:
        assert response.status == 200
        assert (await response.json())["retention_days"] is None
    assert hub.doorbells.get(doorbell).retention_days is None
