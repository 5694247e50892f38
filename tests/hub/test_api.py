"""The hub API against a real in-process hub: pairing, tokens, errors, OpenAPI."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from doorward_hub.app import Hub
from doorward_hub.events import bus as bus_module

from .conftest import LOOPBACK, pair_client


def base(hub: Hub) -> str:
    return f"http://{LOOPBACK}:{hub.port}/api/v1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_info_is_public_and_names_the_hub(hub: Hub, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{base(hub)}/info") as response:
        assert response.status == 200
        info = await response.json()
    assert info["hub_id"] == hub.hub_id
    assert info["hub_id"].startswith("hub-")
    assert info["api_version"] == 1
    assert info["name"] == "Test hub"


async def test_hub_id_survives_restart(tmp_path, http: aiohttp.ClientSession) -> None:
    from .conftest import hub_config

    first = Hub(hub_config(tmp_path / "hub"))
    await first.start()
    hub_id = first.hub_id
    await first.stop()
    second = Hub(hub_config(tmp_path / "hub"))
    await second.start()
    try:
        assert second.hub_id == hub_id
    finally:
        await second.stop()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}],
    ids=["missing", "wrong", "other-scheme"],
)
async def test_calls_without_a_valid_token_get_401(
    hub: Hub, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    for path in ("doorbells", "events", "tokens", "doorbells/x/snapshot"):
        async with http.get(f"{base(hub)}/{path}", headers=headers) as response:
            assert response.status == 401
            body = await response.json()
            assert body["error"] == "unauthorized"
            assert "token" in body["message"]


async def test_pairing_code_is_one_time(hub: Hub, http: aiohttp.ClientSession) -> None:
    code = await hub.pairing.new_code()
    token = await pair_client(http, f"http://{LOOPBACK}:{hub.port}", code)
    async with http.get(f"{base(hub)}/doorbells", headers=auth(token)) as response:
        assert response.status == 200
        assert await response.json() == {"doorbells": []}
    async with http.post(f"{base(hub)}/pair", json={"code": code}) as response:
        assert response.status == 401
        assert (await response.json())["error"] == "invalid_code"


async def test_pairing_code_is_forgiving_about_case_and_dash(
    hub: Hub, http: aiohttp.ClientSession
) -> None:
    code = await hub.pairing.new_code()
    typed = code.replace("-", " ").lower()
    assert await pair_client(http, f"http://{LOOPBACK}:{hub.port}", typed)


async def test_console_code_is_written_for_the_owner(hub: Hub, http: aiohttp.ClientSession) -> None:
    code_file = hub.config.data_dir / "pairing-code"
    assert code_file.stat().st_mode & 0o777 == 0o600
    code = code_file.read_text().strip()
    assert await pair_client(http, f"http://{LOOPBACK}:{hub.port}", code)
    # Using it makes a new one.
    assert code_file.read_text().strip() != code


async def test_tokens_are_listed_without_secrets_and_can_be_revoked(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    async with http.get(f"{base(hub)}/tokens", headers=auth(token)) as response:
        tokens = (await response.json())["tokens"]
    assert len(tokens) == 1
    assert token not in str(tokens)
    assert tokens[0]["client_name"] == "test"
    assert tokens[0]["last_used"] is not None
    token_id = tokens[0]["id"]

    ws = await http.ws_connect(f"{base(hub)}/ws", headers=auth(token))
    assert (await ws.receive_json())["type"] == "hello"
    async with http.delete(f"{base(hub)}/tokens/{token_id}", headers=auth(token)) as response:
        assert response.status == 204
    closing = await ws.receive()
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4001
    async with http.get(f"{base(hub)}/doorbells", headers=auth(token)) as response:
        assert response.status == 401


async def test_unknown_token_revocation_is_404(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    async with http.delete(f"{base(hub)}/tokens/tok_nope", headers=auth(token)) as response:
        assert response.status == 404
        assert (await response.json())["error"] == "unknown_token"


@pytest.mark.parametrize(
    ("body", "error", "names"),
    [
        (b"{not json", "invalid_json", "JSON"),
        (b'{"client_name": "x"}', "invalid_request", "code"),
        (b'{"code": 5}', "invalid_request", "code"),
        (b"[1, 2]", "invalid_request", "body"),
    ],
)
async def test_malformed_pair_requests_get_400_with_a_reason(
    hub: Hub, http: aiohttp.ClientSession, body: bytes, error: str, names: str
) -> None:
    async with http.post(
        f"{base(hub)}/pair", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        answer = await response.json()
    assert answer["error"] == error
    assert names in answer["message"]


async def test_unknown_doorbell_is_404_everywhere(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    calls = [
        ("GET", "doorbells/nope"),
        ("PATCH", "doorbells/nope"),
        ("DELETE", "doorbells/nope"),
        ("POST", "doorbells/nope/approve"),
        ("GET", "doorbells/nope/snapshot"),
        ("GET", "doorbells/nope/video"),
        ("GET", "events?doorbell=nope"),
    ]
    for method, path in calls:
        async with http.request(
            method, f"{base(hub)}/{path}", headers=auth(token), json={"name": "x"}
        ) as response:
            assert response.status == 404, (method, path)
            body = await response.json()
            assert body["error"] == "unknown_doorbell"
            assert "nope" in body["message"]


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=501"])
async def test_bad_event_paging_is_400(
    hub: Hub, http: aiohttp.ClientSession, token: str, query: str
) -> None:
    async with http.get(f"{base(hub)}/events?{query}", headers=auth(token)) as response:
        assert response.status == 400
        body = await response.json()
    assert body["error"] == "invalid_request"
    assert query.split("=", maxsplit=1)[0] in body["message"]


async def test_websocket_rejects_bad_after(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    async with http.get(f"{base(hub)}/ws?after=soon", headers=auth(token)) as response:
        assert response.status == 400
        assert "after" in (await response.json())["message"]


async def test_unknown_path_and_method_get_json_errors(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    async with http.get(f"{base(hub)}/nothing-here", headers=auth(token)) as response:
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"
    async with http.put(f"{base(hub)}/events", headers=auth(token)) as response:
        assert response.status == 405
        assert (await response.json())["error"] == "method_not_allowed"


async def test_missing_event_snapshot_is_404(
    hub: Hub, http: aiohttp.ClientSession, token: str
) -> None:
    async with http.get(f"{base(hub)}/events/12/snapshot", headers=auth(token)) as response:
        assert response.status == 404
        assert (await response.json())["error"] == "no_snapshot"


async def test_openapi_describes_every_route(hub: Hub, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{base(hub)}/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (method.upper(), "/api/v1" + path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = {
        (route.method, route.resource.canonical)
        for route in hub.web_app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert served == documented


async def next_probe(ws: aiohttp.ClientWebSocketResponse) -> int:
    """The number of the next test message, past what the hub sends on connecting."""
    async with asyncio.timeout(10):
        while (message := await ws.receive_json())["type"] != "probe":
            pass
    return int(message["n"])


async def test_a_client_that_falls_behind_is_closed_with_1013(
    hub: Hub, http: aiohttp.ClientSession, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber whose queue is full is cut off (1013, "try again later") instead of
    holding messages for ever; it resumes from its last seq on the next connection."""
    monkeypatch.setattr(bus_module, "SUBSCRIBER_QUEUE_SIZE", 3)
    async with http.ws_connect(f"{base(hub)}/ws", headers=auth(token)) as ws:
        hub.bus.publish({"type": "probe", "n": 0})
        assert await next_probe(ws) == 0  # live, and keeping up
        for n in range(1, 10):  # no await in between: the hub cannot send any of them yet
            hub.bus.publish({"type": "probe", "n": n})
        received = []
        async with asyncio.timeout(10):
            while (message := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                received.append(message.json()["n"])  # only probes are published now
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1013
        assert "resume from your last seq" in message.extra
        # At most the three queued before the cut; nothing published after it.
        assert set(received) <= {1, 2, 3}, received
    # A client that keeps up is not affected.
    async with http.ws_connect(f"{base(hub)}/ws", headers=auth(token)) as ws:
        hub.bus.publish({"type": "probe", "n": 10})
        assert await next_probe(ws) == 10
