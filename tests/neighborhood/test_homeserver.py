"""The test homeserver is configured as `scripts/synapse` promises: loopback, tokens only."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import yaml

from .conftest import synapse


async def _register(session: aiohttp.ClientSession, url: str, user: str, token: str | None) -> int:
    """Register through the user-interactive flow; the final HTTP status."""
    endpoint = f"{url}/_matrix/client/v3/register"
    body: dict[str, Any] = {"username": user, "password": "correct horse battery"}
    async with session.post(endpoint, json=body) as response:
        assert response.status == 401
        flows = await response.json()
    assert ["m.login.registration_token", "m.login.dummy"] in [f["stages"] for f in flows["flows"]]
    if token is None:
        body["auth"] = {"type": "m.login.dummy", "session": flows["session"]}
        async with session.post(endpoint, json=body) as response:
            return response.status
    body["auth"] = {
        "type": "m.login.registration_token",
        "token": token,
        "session": flows["session"],
    }
    async with session.post(endpoint, json=body) as response:
        if response.status != 401:
            return response.status
    body["auth"] = {"type": "m.login.dummy", "session": flows["session"]}
    async with session.post(endpoint, json=body) as response:
        return response.status


async def test_registration_needs_a_single_use_token(
    homeserver: Any, server_admin: tuple[str, str]
) -> None:
    """No token, no account; a token minted for one use makes exactly one account."""
    token = synapse.registration_token(homeserver, server_admin[1], uses=1)
    async with aiohttp.ClientSession() as session:
        assert await _register(session, homeserver.url, "no-token", None) == 401
        assert await _register(session, homeserver.url, "first", token) == 200
        assert await _register(session, homeserver.url, "second", token) == 401


def test_listens_on_loopback_only(homeserver: Any) -> None:
    """The client API is bound to 127.0.0.1, and the configuration has no federation listener."""
    with socket.create_connection(("127.0.0.1", homeserver.port), timeout=2):
        pass
    config = yaml.safe_load((homeserver.data_dir / "doorward.yaml").read_text())
    assert [listener["bind_addresses"] for listener in config["listeners"]] == [["127.0.0.1"]]
    assert [r["names"] for r in config["listeners"][0]["resources"]] == [["client"]]
    assert config["federation_domain_whitelist"] == []
    assert config["trusted_key_servers"] == []
    assert (homeserver.data_dir.stat().st_mode & 0o077) == 0
