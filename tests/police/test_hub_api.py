"""Police requests through the hub's own API and WebSocket: real hubs, a real Synapse, the
agency hub and the group bot. Every answer is checked against the generated OpenAPI document."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.police.agency import SentRequest
from doorward_hub.police.warrants import upload_warrant

from ..neighborhood.test_hub_api import RunningHub, _recorded_clip, hubs
from .groups import PoliceGroup, draft, make_group, until

pytestmark = pytest.mark.timeout(300)  # real hubs and Synapse; slow on a loaded machine

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
    await _join(a, group, HOME_INSIDE)
    await _join(b, group, HOME_ALSO_INSIDE)
    clip = await _recorded_clip(a.hub, tmp_path / "made")
    await _settle(group)

    sent, pushed = await _request_pushed(a, group)
    now_ms = sent.request.window_end_ms
    assert pushed["clip_ids"] == [str(clip.id)]
    assert pushed["state"] == "pending"

    status, listed = await a.call("GET", "/police/requests")
    assert status == 200
    shown = listed["requests"][0]
    assert (shown["case_number"], shown["legal_basis"]) == ("2026-1234", "consent")
    assert shown["held_clip_ids"] == [str(clip.id)]
    assert (await b.call("GET", "/police/requests"))[1] == {"requests": []}

    second = await group.agency.send_request(
        draft(window_start_ms=now_ms - 1800_000, window_end_ms=now_ms, case_number="2026-1235")
    )

    async def second_shown() -> list[Any]:
        await group.agency.sync_once(timeout_ms=1000)
        return [r for r in (await a.call("GET", "/police/requests"))[1]["requests"]
                if r["request_id"] == second.request.request_id]  # fmt: skip

    for _ in range(30):
        if await second_shown():
            break
    else:
        raise AssertionError("the second request was not shown")
    library = a.hub.recorder.library
    original = library.path(clip.file_name).read_bytes()
    library.free_bytes = lambda _folder: 0  # a full disk: retention would delete every clip
    assert await library.enforce_retention() == []  # but this one is held for the requests

    request_path = f"/police/requests/{sent.request.request_id}"
    status, body = await a.call("GET", f"{request_path}/warrant")
    assert (status, body["error"]) == (404, "no_warrant")
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
    assert [(r["state"], r["held_clip_ids"]) for r in listed["requests"]] == [
        ("pending", [str(clip.id)]),  # the second request still holds the clip
        ("answered", []),
    ]

    status, _ = await a.call("POST", f"/police/requests/{second.request.request_id}/decline")
    assert status == 204
    status, listed = await a.call("GET", "/police/requests")
    assert [r["state"] for r in listed["requests"]] == ["declined", "answered"]
    await library.enforce_retention()
    assert not library.path(clip.file_name).exists()  # no request holds it any more

    items = await until(group.agency.evidence.items, group.agency.sync_once)
    assert [i.verified for i in items] == [True]
    assert items[0].manifest is not None
    assert items[0].manifest["expires_ms"] - items[0].manifest["created_ms"] == 5 * 86_400_000
    kept = group.agency.evidence.folder / str(items[0].file)
    assert kept.read_bytes() == original


async def test_a_decline_rule_declines_as_the_request_arrives_and_nothing_is_sent(
    group: PoliceGroup, hubs: list[RunningHub], tmp_path: Path
) -> None:
    """With "warrant required" set through the API, a request without a warrant is pushed and
    listed as declined by that rule, with the reason; it holds no clip, cannot be answered, the
    audit route shows `request.auto_declined` with the rule, and the agency receives nothing.
    A request the rules let through waits for a person."""
    a, _ = hubs
    rules = {"require_warrant": True, "allowed_agencies": None,
             "max_area_m2": None, "max_window_minutes": None}  # fmt: skip
    status, body = await a.call("PUT", "/police/decline-rules", rules)
    assert (status, body) == (200, rules)
    await _join(a, group, HOME_INSIDE)
    clip = await _recorded_clip(a.hub, tmp_path / "made")
    await _settle(group)

    sent, pushed = await _request_pushed(a, group)
    now_ms = sent.request.window_end_ms
    assert (pushed["state"], pushed["declined_by_rule"]) == ("declined", "no_warrant")
    assert pushed["decline_reason"] == "no warrant document is attached"
    assert (pushed["clip_ids"], pushed["held_clip_ids"]) == ([str(clip.id)], [])
    status, listed = await a.call("GET", "/police/requests")
    assert listed["requests"] == [pushed]
    path = f"/police/requests/{sent.request.request_id}"
    status, body = await a.call("POST", f"{path}/answer", {})
    assert (status, body["error"]) == (409, "not_pending")

    status, audit = await a.call("GET", "/audit?limit=3")
    assert status == 200
    newest = audit["entries"][0]
    assert (newest["action"], newest["actor"]) == (
        "request.auto_declined",
        "household:decline_rules",
    )
    assert newest["subject"] == f"request:{sent.request.request_id}"
    assert (newest["details"]["rule"], newest["details"]["clip_ids"]) == (
        "no_warrant",
        [str(clip.id)],
    )
    seqs = [entry["seq"] for entry in audit["entries"]]
    assert seqs == sorted(seqs, reverse=True)
    assert not any(e["action"].startswith("export.") for e in audit["entries"])

    # Rules off: the next request waits for a person.
    off = rules | {"require_warrant": False}
    assert (await a.call("PUT", "/police/decline-rules", off))[0] == 200
    second = await group.agency.send_request(
        draft(window_start_ms=now_ms - 1800_000, window_end_ms=now_ms, case_number="2026-1235")
    )

    async def second_state() -> str | None:
        await group.agency.sync_once(timeout_ms=1000)
        for item in (await a.call("GET", "/police/requests"))[1]["requests"]:
            if item["request_id"] == second.request.request_id:
                return str(item["state"])
        return None

    for _ in range(30):
        if state := await second_state():
            break
    assert state == "pending"
    for _ in range(3):
        await group.agency.sync_once(timeout_ms=500)
    assert group.agency.evidence.items() == []


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def test_a_warrant_is_required_attached_encrypted_and_read_through_the_api(
    hubs: list[RunningHub], homeserver: Any, tmp_path: Path
) -> None:
    """In a group that requires warrants, a request without one is taken down and never shown;
    one with a real encrypted attachment is shown with `has_warrant`, and the household reads
    the document (hash checked, logged); an attachment altered after upload is refused."""
    group = await make_group(homeserver, tmp_path / "group", GroupPolicy(warrant_required=True))
    try:
        a = hubs[0]
        await _join(a, group, HOME_INSIDE)
        await _recorded_clip(a.hub, tmp_path / "made")
        await _settle(group)
        now_ms = int(time.time() * 1000)
        window = {"window_start_ms": now_ms - 3600_000, "window_end_ms": now_ms}
        client = group.agency.membership.client
        bare = await group.agency.send_request(draft(**window, case_number="2026-9"))
        warrant = await upload_warrant(client, "warrant-2026-10.pdf", "application/pdf", PDF)
        assert PDF not in str(warrant.to_content()).encode()
        with_warrant = await group.agency.send_request(
            draft(**window, case_number="2026-10", legal_basis="warrant", warrant=warrant)
        )
        altered_file = {**warrant.file, "hashes": {"sha256": "A" * 43}}
        altered = await group.agency.send_request(
            draft(**window, case_number="2026-11", legal_basis="warrant",
                  warrant=dataclasses.replace(warrant, file=altered_file))
        )  # fmt: skip

        async def listed() -> dict[str, Any] | None:
            await group.bot.sync_once()
            await group.agency.sync_once(timeout_ms=500)
            shown = (await a.call("GET", "/police/requests"))[1]["requests"]
            by_id = {r["request_id"]: r for r in shown}
            return by_id if len(by_id) == 2 else None

        by_id = None
        for _ in range(40):
            if by_id := await listed():
                break
        assert by_id is not None
        assert bare.request.request_id not in by_id
        assert by_id[with_warrant.request.request_id]["has_warrant"] is True
        codes = [r.code for r in group.agency.rejections]
        assert codes == ["out_of_policy"]

        path = f"/police/requests/{with_warrant.request.request_id}/warrant"
        status, document = await a.call("GET", path)
        assert (status, document) == (200, PDF)
        async with a.http.get(
            a.base + path, headers={"Authorization": f"Bearer {a.token}"}
        ) as response:
            assert response.content_type == "application/pdf"
            assert response.headers["Content-Disposition"] == (
                'attachment; filename="warrant-2026-10.pdf"'
            )
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        viewed = [e for e in await a.hub.audit.entries() if e.action == "warrant.viewed"]
        assert [e.subject for e in viewed] == [f"request:{with_warrant.request.request_id}"] * 2
        status, body = await a.call("GET", f"/police/requests/{altered.request.request_id}/warrant")
        assert (status, body["error"]) == (502, "warrant_unavailable")
        status, body = await a.call("GET", "/police/requests/req-unknown01/warrant")
        assert (status, body["error"]) == (404, "not_found")
    finally:
        await group.close()


async def _join(running: RunningHub, group: PoliceGroup, home: tuple[float, float]) -> None:
    """Set the hub's home and join the group with an invite, through the hub's API."""
    status, body = await running.call(
        "PUT", "/neighborhood/home", {"latitude": home[0], "longitude": home[1]}
    )
    assert status == 200, body
    status, body = await running.call(
        "POST", "/neighborhood/join", {"invite": (await group.host.invite()).encode()}
    )
    assert status == 200, body


async def _settle(group: PoliceGroup) -> None:
    """A few rounds of the bot's and the agency's syncs: they see the joined hubs' keys."""
    for _ in range(3):
        await group.bot.sync_once()
        await group.agency.sync_once()


async def _request_pushed(hub: RunningHub, group: PoliceGroup) -> tuple[SentRequest, Any]:
    """The agency asks for the last hour; the request as the hub's WebSocket pushes it."""
    now_ms = int(time.time() * 1000)
    async with hub.http.ws_connect(
        f"{hub.base}/ws", headers={"Authorization": f"Bearer {hub.token}"}
    ) as ws:
        sent = await group.agency.send_request(
            draft(window_start_ms=now_ms - 3600_000, window_end_ms=now_ms)
        )
        async for message in ws:
            data = message.json()
            if data["type"] == "police_request":
                break
    assert data["request"]["request_id"] == sent.request.request_id
    return sent, data["request"]
