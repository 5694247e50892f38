"""Police requests through the hub's own API and WebSocket: real hubs, a real Synapse, the
agency hub and the group bot. Every answer is checked against the generated OpenAPI document."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from doorward_hub.neighborhood.event_types import GroupPolicy

from ..neighborhood.test_hub_api import RunningHub, _recorded_clip, hubs
from .groups import PoliceGroup, draft, make_group, until

__all__ = ["hubs"]

HOME_INSIDE = (52.3702, 4.8952)
HOME_ALSO_INSIDE = (52.3704, 4.8948)


@pytest.fixture
async def group(homeserver: Any, tmp_path: Path) -> AsyncIterator[PoliceGroup]:
    """Elm Street with its bot and Elm PD."""
    made = await make_group(homeserver, tmp_path / "group", GroupPolicy())
    yield made
    await made.close()


async def test_a_request_is_pushed_listed_and_answered_through_the_api(
    group: PoliceGroup, hubs: list[RunningHub], tmp_path: Path
) -> None:
    """Hub A (clips in the window) gets the request on its WebSocket and lists it with the
    matching clip held; hub B (no clips) lists nothing; A's answer call delivers the clip to the
    agency, verified; the clip is held from retention only while the request is pending;
    answering twice, foreign clips and unknown requests are refused."""
    a, b = hubs
    assert (await a.call("GET", "/police/requests"))[1]["error"] == "not_joined"
    for running, home in ((a, HOME_INSIDE), (b, HOME_ALSO_INSIDE)):
        status, body = await running.call(
            "PUT", "/neighborhood/home", {"latitude": home[0], "longitude": home[1]}
        )
        assert status == 200, body
        status, body = await running.call(
            "POST", "/neighborhood/join", {"invite": (await group.host.invite()).encode()}
        )
        assert status == 200, body
    clip = await _recorded_clip(a.hub, tmp_path / "made")
    for _ in range(3):
        await group.bot.sync_once()
        await group.agency.sync_once()

    now_ms = int(time.time() * 1000)
    async with a.http.ws_connect(
        f"{a.base}/ws", headers={"Authorization": f"Bearer {a.token}"}
    ) as ws:
        sent = await group.agency.send_request(
            draft(window_start_ms=now_ms - 3600_000, window_end_ms=now_ms)
        )
        async for message in ws:
            data = message.json()
            if data["type"] == "police_request":
                break
    pushed = data["request"]
    assert pushed["request_id"] == sent.request.request_id
    assert pushed["clip_ids"] == [str(clip.id)]
    assert pushed["state"] == "pending"

    status, listed = await a.call("GET", "/police/requests")
    assert status == 200
    shown = listed["requests"][0]
    assert (shown["case_number"], shown["legal_basis"]) == ("2026-1234", "consent")
    assert shown["held_clip_ids"] == [str(clip.id)]
    assert (await b.call("GET", "/police/requests"))[1] == {"requests": []}
    library = a.hub.recorder.library
    library.free_bytes = lambda _folder: 0  # a full disk: retention would delete every clip
    assert await library.enforce_retention() == []  # but this one is held for the request

    request_path = f"/police/requests/{sent.request.request_id}"
    status, body = await a.call("POST", f"{request_path}/answer", {"clip_ids": ["999"]})
    assert (status, body["error"]) == (400, "not_matching")
    status, body = await a.call("POST", f"{request_path}/answer", {"retention_days": 5})
    assert status == 201, body
    assert body["shared_clip_ids"] == [str(clip.id)]
    status, body = await a.call("POST", f"{request_path}/answer", {})
    assert (status, body["error"]) == (409, "not_pending")
    status, body = await b.call("POST", f"{request_path}/decline")
    assert (status, body["error"]) == (404, "not_found")
    status, listed = await a.call("GET", "/police/requests")
    assert listed["requests"][0]["state"] == "answered"
    assert listed["requests"][0]["held_clip_ids"] == []

    items = await until(group.agency.evidence.items, group.agency.sync_once)
    assert [i.verified for i in items] == [True]
    assert items[0].manifest is not None
    assert items[0].manifest["expires_ms"] - items[0].manifest["created_ms"] == 5 * 86_400_000
    kept = group.agency.evidence.folder / str(items[0].file)
    assert kept.read_bytes() == library.path(clip.file_name).read_bytes()
    assert [c.id for c in await library.enforce_retention()] == [clip.id]  # hold released
