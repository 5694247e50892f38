"""The neighborhood through the hub's own API and WebSocket: two real hubs, a real Synapse."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from doorward_hub.app import Hub
from doorward_hub.models import Clip, ClipTrigger
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.neighborhood.group_host import GroupHost

from ..hub.conftest import hub_config, pair_client
from ..hub.openapi_contract import DocumentCheck
from ..support import LOOPBACK, wait_for
from .conftest import synapse
from .media import make_clip


@pytest.fixture
async def host(homeserver: Any, tmp_path: Path) -> AsyncIterator[GroupHost]:
    """A group host with a fresh group."""
    name, password = f"host-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    synapse.register(homeserver, name, password, admin=True)
    signed_in = await GroupHost.sign_in(tmp_path / "host", homeserver.url, name, password)
    await signed_in.create("Elm Street", GroupPolicy())
    yield signed_in
    await signed_in.close()


CONTRACT = DocumentCheck()
"""Every answer of these tests is checked against the generated OpenAPI document."""


class RunningHub:
    """A hub in this process and a paired API client; every answer is checked against the
    OpenAPI document."""

    def __init__(self, hub: Hub, http: aiohttp.ClientSession, token: str) -> None:
        """Talk to `hub` with `token`."""
        self.hub, self.http, self.token = hub, http, token
        self.base = f"http://{LOOPBACK}:{hub.port}/api/v1"

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API call; status and JSON (or None)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            raw = await r.read()
            if body is not None:
                headers["Content-Type"] = "application/json"
            CONTRACT.check(method, r.url, headers, r, raw)
            data = await r.json() if r.content_type == "application/json" else raw
            return r.status, data


@pytest.fixture
async def hubs(tmp_path: Path) -> AsyncIterator[list[RunningHub]]:
    """Two household hubs (each its own data folder), paired."""
    started: list[Hub] = []
    async with aiohttp.ClientSession() as http:
        running = []
        for name in ("a", "b"):
            hub = Hub(hub_config(tmp_path / name, name=f"Hub {name.upper()}", advertise=False))
            await hub.start()
            started.append(hub)
            base = f"http://{LOOPBACK}:{hub.port}"
            running.append(
                RunningHub(hub, http, await pair_client(http, base, await hub.pairing.new_code()))
            )
        try:
            yield running
        finally:
            for hub in started:
                await hub.stop()


async def _recorded_clip(hub: Hub, folder: Path) -> Clip:
    """A clip in the hub's library, as the recorder stores one (its video in place, owner-only,
    then indexed; no thumbnail until one is asked for)."""
    start = time.time() - 10
    made = make_clip(folder, "made", int(start * 1000))
    library = hub.recorder.library
    name = library.new_file_name("sim-front", start)
    await asyncio.to_thread(made.video.replace, library.path(name))
    await asyncio.to_thread(library.path(name).chmod, 0o600)
    data = await asyncio.to_thread(library.path(name).read_bytes)
    return await library.add(
        Clip(
            id=0, doorbell_id="sim-front", trigger=ClipTrigger.PRESS, trigger_seq=None,
            trigger_time=start + 1, start=start, end=start + 2, size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), file_name=name,
        )
    )  # fmt: skip


async def test_join_share_and_receive_through_the_api(
    host: GroupHost, hubs: list[RunningHub], tmp_path: Path
) -> None:
    """Hub A shares a clip with one API call; hub B's API and WebSocket offer it, verified."""
    a, b = hubs
    status, body = await a.call("GET", "/neighborhood")
    assert (status, body["joined"]) == (200, False)
    assert (await a.call("POST", "/clips/1/share", {}))[1]["error"] == "not_joined"
    status, body = await a.call("POST", "/neighborhood/join", {"invite": "not an invite"})
    assert (status, body["error"]) == (400, "invalid_invite")  # no `doorward-invite:` prefix
    status, body = await a.call("POST", "/neighborhood/join", {"invite": "doorward-invite:x!"})
    assert (status, body["error"]) == (400, "invalid_invite")

    for running, home in ((a, (52.370216, 4.895168)), (b, (52.372933, 4.898812))):
        status, body = await running.call(
            "PUT", "/neighborhood/home", dict(zip(("latitude", "longitude"), home, strict=True))
        )
        assert status == 200, body
        status, body = await running.call(
            "POST", "/neighborhood/join", {"invite": (await host.invite()).encode()}
        )
        assert (status, body["joined"], body["group_name"]) == (200, True, "Elm Street"), body

    clip = await _recorded_clip(a.hub, tmp_path / "made")
    assert not a.hub.recorder.library.path(clip.thumbnail_name).exists()
    async with b.http.ws_connect(
        f"{b.base}/ws", headers={"Authorization": f"Bearer {b.token}"}
    ) as ws:
        status, body = await a.call("POST", f"/clips/{clip.id}/share", {"message": "Parcel gone"})
        assert status == 201, body
        event_id = body["event_id"]
        async for message in ws:
            data = message.json()
            if data["type"] == "neighbor_post":
                break
        assert data["post"]["event_id"] == event_id
        assert data["post"]["verified"] is True
        assert data["post"]["message"] == "Parcel gone"

    status, posts = await b.call("GET", "/neighborhood/posts")
    assert [p["event_id"] for p in posts["posts"]] == [event_id]
    assert posts["posts"][0]["cells_from_home"] in (0, 1, 2)
    status, video = await b.call("GET", f"/neighborhood/posts/{event_id}/video")
    assert status == 200
    assert video == a.hub.recorder.library.path(clip.file_name).read_bytes()
    # Sharing made the clip's thumbnail (never asked for before), kept by A and sent along.
    thumbnail = a.hub.recorder.library.path(clip.thumbnail_name)
    status, picture = await b.call("GET", f"/neighborhood/posts/{event_id}/thumbnail")
    assert status == 200
    assert picture == thumbnail.read_bytes()
    assert picture[:2] == b"\xff\xd8"
    status, one = await b.call("GET", f"/neighborhood/posts/{event_id}")
    assert (status, one["comments"]) == (200, [])
    assert (await b.call("GET", "/neighborhood/posts/$nope"))[0] == 404

    # The member count is the space's joined accounts: the admin, A and B.
    async def members(running: RunningHub, count: int) -> bool:
        return (await running.call("GET", "/neighborhood"))[1]["member_count"] == count

    await wait_for(lambda: members(b, 3), timeout=60)
    async with b.http.ws_connect(
        f"{b.base}/ws", headers={"Authorization": f"Bearer {b.token}"}
    ) as ws:
        assert (await b.call("POST", "/neighborhood/leave"))[0] == 204
        async for message in ws:
            data = message.json()
            if data["type"] == "neighborhood":
                break
        assert data["status"]["joined"] is False
        assert (data["status"]["group_name"], data["status"]["member_count"]) == (None, None)
    await wait_for(lambda: members(a, 2), timeout=60)
    status, body = await b.call("GET", "/neighborhood")
    assert body["joined"] is False
    assert (await b.call("POST", "/neighborhood/leave"))[1]["error"] == "not_joined"
