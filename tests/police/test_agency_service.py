"""`doorward-hub agency serve` on loopback with a real Synapse: an officer sends requests over
the agency API, the group bot keeps one and takes one down, a household answers, and the
officer lists, downloads and deletes the verified clip; every step is in the audit log with
the officer's token id, and nothing names the household beyond its manifest."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate

from doorward_hub.audit.log import AuditLog
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.police.agency_service import AgencyService, ServiceOptions
from doorward_hub.police.area import home_area_cell
from doorward_hub.police.household import HouseholdRequests
from doorward_hub.police.layout import agency_folder
from doorward_hub.police.staff import StaffTokens

from ..neighborhood.households import Household
from ..neighborhood.media import make_clip
from .groups import BLOCK, PoliceGroup, make_group

pytestmark = pytest.mark.timeout(300)  # real hubs and Synapse; slow on a loaded machine

HOME = (52.3702, 4.8952)
HOUR_MS = 3600_000


@dataclass
class AgencySetup:
    """The group, the agency service, one household inside the block, an officer's token."""

    group: PoliceGroup
    service: AgencyService
    household: Household
    requests: HouseholdRequests
    http: aiohttp.ClientSession
    base: str
    token: str
    officer_id: str
    clip_bytes: dict[str, bytes]
    offset: list[float]
    """Seconds the agency service's clock is ahead (retention is tested by moving it)."""

    def headers(self, token: str | None = None) -> dict[str, str]:
        """The officer's Authorization header."""
        return {"Authorization": f"Bearer {token or self.token}"}

    async def step(self) -> None:
        """The bot and the household sync once; the service syncs on its own."""
        await self.group.bot.sync_once()
        await self.household.membership.sync_once(self.requests, timeout_ms=0)
        await asyncio.sleep(0.2)

    async def get(self, path: str) -> Any:
        """GET a JSON document of the agency API as the officer."""
        async with self.http.get(self.base + path, headers=self.headers()) as response:
            assert response.status == 200, await response.text()
            return await response.json()


@pytest.fixture
async def setup(homeserver: Any, tmp_path: Path) -> AsyncIterator[AgencySetup]:
    """A group whose policy allows windows up to two hours; the agency runs as its service."""
    data = tmp_path / "agency-hub"
    group = await make_group(
        homeserver, tmp_path, GroupPolicy(max_request_window_minutes=120), agency_data=data
    )
    await group.agency.close()  # the service takes over the same account and device
    now_ms = int(time.time() * 1000)
    household = await Household.join(tmp_path / "hub-a", "Hub A", await group.host.invite(), HOME)
    clips = [
        make_clip(tmp_path / "hub-a" / "clips", f"a{i}", now_ms - 2 * HOUR_MS + i * 600_000)
        for i in (1, 2)
    ]

    class Clips:
        async def between(self, start_ms: int, end_ms: int) -> list[Any]:
            return [c for c in clips if c.end_ms >= start_ms and c.start_ms <= end_ms]

    requests = HouseholdRequests(
        tmp_path / "hub-a" / "police",
        household.membership,
        household.identity,
        household.audit,
        Clips(),
        home_cell=home_area_cell(*HOME),
    )
    token, officer = StaffTokens(agency_folder(data)).add("Det. Jane Doe #4411")
    offset = [0.0]
    service = AgencyService(
        data,
        ServiceOptions(port=0, sync_timeout_ms=500, retention_interval_s=0.2),
        clock=lambda: time.time() + offset[0],
    )
    await service.start()
    async with aiohttp.ClientSession() as http:
        made = AgencySetup(
            group, service, household, requests, http,
            f"http://127.0.0.1:{service.port}/api/v1/agency", token, officer.token_id,
            {c.clip_id: c.video.read_bytes() for c in clips}, offset,
        )  # fmt: skip
        for _ in range(2):
            await made.step()
        yield made
    await service.stop()
    await household.stop()
    await group.close()


def request_body(**changes: Any) -> dict[str, Any]:
    """A request within the policy: one hour, ending an hour ago, over the block."""
    now = time.time()
    return {
        "case_number": "2026-77",
        "incident_type": "burglary",
        "description": "Break-in at number 12",
        "legal_basis": "consent",
        "polygon": [[lat, lng] for lat, lng in BLOCK],
        "window": {
            "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 2.5 * 3600)),
            "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1.5 * 3600)),
        },
        "valid_for_hours": 48,
        "contact": "detective@elm-pd.example",
    } | changes


async def until(setup: AgencySetup, check: Any) -> Any:
    """Step until `check()` (a coroutine function) gives something truthy."""
    for _ in range(60):
        await setup.step()
        result = await check()
        if result:
            return result
    raise AssertionError("condition not met after 60 steps")


async def test_officers_send_requests_and_handle_evidence_over_the_api(
    setup: AgencySetup,
) -> None:
    """Send, take-down, answer, list, download, delete; each logged with the officer."""
    http, base = setup.http, setup.base
    async with http.get(f"{base}/requests") as response:
        assert response.status == 401
    async with http.get(f"{base}/nowhere") as response:
        assert response.status == 401  # learning what exists needs a token too
    async with http.get(f"{base}/requests", headers=setup.headers("not-a-token")) as response:
        assert response.status == 401
    async with http.get(f"{base}/openapi.json") as response:
        document = await response.json()
    validate(document)
    assert set(document["paths"]) == {
        "/agency/openapi.json",
        "/agency/requests",
        "/agency/evidence",
        "/agency/evidence/{evidence_id}/clip",
        "/agency/evidence/{evidence_id}",
        "/agency/audit",
    }

    # Bad input: 400 naming the field.
    bad = {
        "case_number": request_body(case_number=""),
        "polygon": request_body(polygon=[[52.37, 4.89], [52.38, 4.89]]),
        "legal_basis": request_body(legal_basis="curiosity"),
        "window": request_body(window={"start": "2026-11-30T10:00:00", "end": "x"}),
        "contact": {k: v for k, v in request_body().items() if k != "contact"},
    }
    for field, body in bad.items():
        async with http.post(f"{base}/requests", json=body, headers=setup.headers()) as response:
            assert response.status == 400, field
            assert field in (await response.json())["message"], field
    backwards = request_body(window={"start": "2026-11-30T12:00:00Z", "end": "2026-11-30T11:00Z"})
    async with http.post(f"{base}/requests", json=backwards, headers=setup.headers()) as response:
        assert response.status == 400
        assert (await response.json())["message"] == "window: end must be after start"

    # The homeserver cannot be reached: 502, and nothing is listed as sent.
    client = setup.service.hub.membership.client
    homeserver, client.homeserver = client.homeserver, "http://127.0.0.1:9"
    try:
        async with http.post(
            f"{base}/requests", json=request_body(), headers=setup.headers()
        ) as response:
            assert response.status == 502
            assert (await response.json())["error"] == "homeserver_error"
    finally:
        client.homeserver = homeserver
    assert (await setup.get("/requests"))["requests"] == []

    # A warrant document is checked before anything is uploaded.
    for warrant, reason in (
        ({"filename": "w.pdf", "mimetype": "application/pdf", "content_base64": "%%%"},
         "warrant.content_base64: not base64"),
        ({"filename": "w.pdf", "mimetype": "application/pdf",
          "content_base64": base64.b64encode(b"<script>").decode()},
         "warrant: the document is not a application/pdf file"),
    ):  # fmt: skip
        body = request_body(warrant=warrant)
        async with http.post(f"{base}/requests", json=body, headers=setup.headers()) as response:
            assert response.status == 400
            assert (await response.json())["message"] == reason
    async with http.post(
        f"{base}/requests",
        json=request_body(warrant={"filename": "w.pdf", "mimetype": "text/html",
                                   "content_base64": ""}),
        headers=setup.headers(),
    ) as response:  # fmt: skip
        assert response.status == 400
        assert "warrant.mimetype" in (await response.json())["message"]

    # One request within the policy (with a warrant), one whose window is longer than allowed.
    pdf = b"%PDF-1.7\n%%EOF\n"
    warrant = {"filename": "warrant.pdf", "mimetype": "application/pdf",
               "content_base64": base64.b64encode(pdf).decode()}  # fmt: skip
    body = request_body(legal_basis="warrant", warrant=warrant)
    async with http.post(f"{base}/requests", json=body, headers=setup.headers()) as r:
        assert r.status == 201, await r.text()
        kept = await r.json()
    assert kept["window_minutes"] == 60
    long_window = request_body(
        window={"start": "2026-11-30T00:00:00Z", "end": "2026-11-30T05:00:00Z"}
    )
    async with http.post(f"{base}/requests", json=long_window, headers=setup.headers()) as r:
        assert r.status == 201
        taken = await r.json()

    async def taken_down() -> Any:
        listed = await setup.get("/requests")
        by_id = {item["request_id"]: item for item in listed["requests"]}
        return by_id if by_id[taken["request_id"]]["taken_down"] else None

    by_id = await until(setup, taken_down)
    assert by_id[taken["request_id"]]["taken_down"]["code"] == "out_of_policy"
    assert by_id[kept["request_id"]]["taken_down"] is None
    assert by_id[kept["request_id"]]["has_warrant"] is True

    pending = setup.requests.requests()
    assert [p.request.request_id for p in pending] == [kept["request_id"]]
    assert pending[0].clip_ids == ["a1", "a2"]
    found = await setup.requests.warrant(kept["request_id"], "household")
    assert (found.filename, found.data) == ("warrant.pdf", pdf)
    await setup.requests.answer(kept["request_id"], "household", ["a1", "a2"])

    async def evidence() -> Any:
        found = (await setup.get("/evidence"))["evidence"]
        return found if len(found) == 2 else None

    items = await until(setup, evidence)
    by_sha = {i["sha256"]: i for i in items}
    item = by_sha[hashlib.sha256(setup.clip_bytes["a2"]).hexdigest()]
    other = by_sha[hashlib.sha256(setup.clip_bytes["a1"]).hexdigest()]
    assert other["verified"] is True
    assert item["verified"] is True, item["verification"]
    assert item["request_id"] == kept["request_id"]
    assert item["case_number"] == "2026-77"
    assert item["hub_key_id"] == setup.household.identity.key_id
    assert item["sha256"] == hashlib.sha256(setup.clip_bytes["a2"]).hexdigest()
    household_id = str(setup.household.membership.client.user_id)
    listed = await setup.get("/requests")
    assert household_id not in str(listed) + str(items)
    summary = next(r for r in listed["requests"] if r["request_id"] == kept["request_id"])
    assert (summary["answers"], summary["clips"], summary["verified_clips"]) == (1, 2, 2)

    clip_url = f"{base}/evidence/{item['evidence_id']}/clip"
    async with http.get(clip_url, headers=setup.headers()) as response:
        assert response.status == 200
        assert response.content_type == "video/mp4"
        assert hashlib.sha256(await response.read()).hexdigest() == item["sha256"]
    async with http.delete(
        f"{base}/evidence/{item['evidence_id']}?reason=case closed", headers=setup.headers()
    ) as response:
        assert response.status == 204
    async with http.get(clip_url, headers=setup.headers()) as response:
        assert response.status == 404
    async with http.delete(
        f"{base}/evidence/{item['evidence_id']}", headers=setup.headers()
    ) as response:
        assert response.status == 404
    assert [i["evidence_id"] for i in (await setup.get("/evidence"))["evidence"]] == [
        other["evidence_id"]
    ]

    # The household's retention (the group's 30 days) ends: the service's timer deletes it.
    setup.offset[0] = 31 * 86_400

    async def emptied() -> bool:
        return (await setup.get("/evidence"))["evidence"] == []

    await until(setup, emptied)

    audit = await AuditLog.open(setup.service.data_dir)
    entries = [(e.action, e.actor, e.details) for e in await audit.entries()]
    # Officers read the same log through the API, newest first.
    page = await setup.get(f"/audit?limit={len(entries)}")
    assert [(e["action"], e["actor"], e["details"]) for e in page["entries"]] == entries[::-1]
    async with http.get(f"{base}/audit") as response:
        assert response.status == 401
    actor = f"staff:{setup.officer_id}"
    sent = [d for action, _, d in entries if action == "request.sent"]
    assert [d["officer"] for d in sent] == [actor, actor]
    assert ("evidence.downloaded", actor) in [(a, who) for a, who, _ in entries]
    deleted = next(d for a, who, d in entries if a == "evidence.deleted" and who == actor)
    assert deleted["reason"] == "case closed"
    assert "request.taken_down" in [a for a, _, _ in entries]
    assert ("evidence.deleted", "retention") in [(a, who) for a, who, _ in entries]

    # A revoked token stops working at once, while the service runs.
    assert StaffTokens(agency_folder(setup.service.data_dir)).revoke(setup.officer_id)
    async with http.get(f"{base}/requests", headers=setup.headers()) as response:
        assert response.status == 401
