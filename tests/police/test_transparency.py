"""The group's transparency report on a real Synapse: its totals equal what happened, it is
published in the space and the requests room (by command and at the month's end), served as
JSON and HTML, and no household identity appears anywhere in it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from nio.responses import RoomGetStateEventResponse, RoomSendResponse
from nio.rooms import MatrixRoom

from doorward_hub.core.files import read_json
from doorward_hub.neighborhood.event_types import TRANSPARENCY, GroupPolicy
from doorward_hub.police.area import home_area_cell
from doorward_hub.police.direct_rooms import ROOMS_FILE, direct_room
from doorward_hub.police.event_types import REQUEST
from doorward_hub.police.household import HouseholdRequests
from doorward_hub.police.moderation import LEDGER_FILE, RequestModerator
from doorward_hub.police.transparency import period_bounds, period_of
from doorward_hub.web.transparency.app import create_app

from ..neighborhood.households import Household
from ..neighborhood.media import make_clip
from .groups import PoliceGroup, draft, make_group, until

pytestmark = pytest.mark.timeout(300)  # real hubs and Synapse; slow on a loaded machine

HOUR_MS = 3600_000


@dataclass
class Home:
    """A household hub inside the block, with two clips in the requests' window."""

    household: Household
    requests: HouseholdRequests


@dataclass
class Street:
    """The group (bot, agency, a plain member) and homes A and B."""

    group: PoliceGroup
    homes: list[Home]

    async def sync_all(self) -> None:
        """Bot, agency and homes sync once."""
        await self.group.bot.sync_once()
        await self.group.agency.sync_once()
        for home in self.homes:
            await home.household.membership.sync_once(home.requests, timeout_ms=0)


@pytest.fixture
async def street(homeserver: Any, tmp_path: Path) -> AsyncIterator[Street]:
    """Elm Street (windows up to two hours) with homes A and B inside the block."""
    group = await make_group(homeserver, tmp_path, GroupPolicy(max_request_window_minutes=120))
    now_ms = int(time.time() * 1000)
    homes = []
    for name, location in (("a", (52.3702, 4.8952)), ("b", (52.3704, 4.8948))):
        data = tmp_path / f"hub-{name}"
        hub_name = {"a": "Alder Hub", "b": "Birch Hub"}[name]
        household = await Household.join(data, hub_name, await group.host.invite(), location)
        clips = [
            make_clip(data / "clips", f"{name}{i}", now_ms - 3 * HOUR_MS + i * 600_000)
            for i in (1, 2)
        ]

        class Clips:
            def __init__(self, clips: list[Any]) -> None:
                self.clips = clips

            async def between(self, start_ms: int, end_ms: int) -> list[Any]:
                return [c for c in self.clips if c.end_ms >= start_ms and c.start_ms <= end_ms]

        requests = HouseholdRequests(
            data / "police", household.membership, household.identity, household.audit,
            Clips(clips), home_cell=home_area_cell(*location),
        )  # fmt: skip
        homes.append(Home(household, requests))
    made = Street(group, homes)
    for _ in range(2):
        await made.sync_all()
    yield made
    for home in homes:
        await home.household.stop()
    await group.close()


async def test_the_report_counts_what_happened_and_names_no_household(street: Street) -> None:
    """Two shown requests (consent, exigent), one taken down, one forged by a member; A shares
    two clips and then one, B one: the report has exactly that, and no household in it."""
    group = street.group
    a, b = street.homes
    first = await group.agency.send_request(draft(case_number="2026-1"))
    second = await group.agency.send_request(draft(case_number="2026-2", legal_basis="exigent"))
    now_ms = first.request.created_ms
    too_long = await group.agency.send_request(
        draft(case_number="2026-3", window_start_ms=now_ms - 5 * HOUR_MS)
    )
    forged = dataclasses.replace(first.request, request_id="req-forged01").to_content()
    sent = await group.member.client.room_send(
        group.host.group().rooms["requests"], REQUEST, forged, ignore_unverified_devices=True
    )
    assert isinstance(sent, RoomSendResponse), sent

    def both_pending() -> bool:
        return all(len(home.requests.requests()) == 2 for home in street.homes)

    await until(both_pending, street.sync_all)
    await a.requests.answer(first.request.request_id, "household", ["a1", "a2"])
    await a.requests.answer(second.request.request_id, "household", ["a1"])
    await b.requests.answer(first.request.request_id, "household", ["b2"])

    def three_receipts() -> bool:
        ledger = read_json(group.host.folder / LEDGER_FILE) or {}
        return len(ledger.get("receipts", {})) == 3

    await until(three_receipts, street.sync_all)
    period = period_of(now_ms)
    report = await group.bot.transparency.report(period)
    assert report.requests_from_non_agencies == 1
    assert not report.complete
    [elm] = report.agencies
    assert (elm.agency, elm.name, elm.jurisdiction) == (group.agency_id, "Elm PD", "Elm County")
    assert (elm.requests_received, elm.requests_shown) == (3, 2)
    assert elm.taken_down == {"out_of_policy": 1}
    assert elm.legal_bases == {"consent": 1, "exigent": 1}
    assert elm.case_numbers == ["2026-1", "2026-2"]
    assert elm.total_area_m2 == first.request.area_m2 + second.request.area_m2
    assert (elm.share_receipts, elm.clips_shared) == (3, 4)
    assert too_long.request.case_number not in str(report.to_content())

    # Published: state on the space (key = the period) and a notice members read.
    published = await group.bot.transparency.publish(period)
    state = await group.host.client.room_get_state_event(
        group.host.group().space_id, TRANSPARENCY, period
    )
    assert isinstance(state, RoomGetStateEventResponse), state
    assert state.content == published.to_content()
    notices = await _notices(street)
    assert any(n.startswith(f"Transparency report of Elm Street for {period} (so far):")
               for n in notices)  # fmt: skip

    # At the month's end the bot publishes the finished month once, by itself.
    _, end = period_bounds(period)
    later = RequestModerator(group.host, group.host_audit, clock=lambda: end / 1000 + 60)
    finished = await later.transparency.publish_due()
    assert finished is not None
    assert finished.complete
    assert finished.period == period
    assert await later.transparency.publish_due() is None
    assert [e.action for e in await group.host_audit.entries()].count("transparency.published") == 2

    # Served as JSON and HTML; nothing in any of it names a household.
    runner = web.AppRunner(create_app(group.bot.transparency))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/transparency"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/{period}.json") as response:
                assert response.status == 200
                served = await response.json()
            async with http.get(f"{base}/{period}") as response:
                assert response.content_type == "text/html"
                page = await response.text()
            async with http.get(base) as response:
                assert str(response.url).endswith(f"/transparency/{period}")
            async with http.get(f"{base}/2026-13.json") as response:
                assert response.status == 404
    finally:
        await runner.cleanup()
    assert served["agencies"][0]["clips_shared"] == 4
    assert '<html lang="en">' in page
    assert "<caption>Requests per agency</caption>" in page
    assert '<th scope="col">Clips shared</th>' in page
    assert "Elm PD" in page

    identities = {str(group.member.client.user_id), str(group.member.client.device_id)}
    for home in street.homes:
        client = home.household.membership.client
        identities |= {str(client.user_id), str(client.device_id), home.household.name}
        rooms = read_json(home.household.data_dir / "police" / ROOMS_FILE) or {}
        identities |= set(rooms.values())
        identities.add(home.household.identity.key_id)
    serialized = " ".join(
        [str(report.to_content()), str(finished.to_content()), str(state.content), str(served),
         page, *notices]
    )  # fmt: skip
    for identity in identities:
        assert identity not in serialized, identity
    host_ledger = str(read_json(group.host.folder / LEDGER_FILE)["receipts"])
    for home in street.homes:
        assert str(home.household.membership.client.user_id) not in host_ledger


async def test_a_receipt_room_a_sync_caught_half_made_still_reaches_the_bot(
    street: Street,
) -> None:
    """A sync can bring a new receipt room before the homeserver put the bot's invitation in it
    (only the hub's own join, not yet its encryption): the receipt still goes encrypted to the
    bot, which counts it."""
    group = street.group
    home = street.homes[0]
    sent = await group.agency.send_request(draft(case_number="2026-7"))
    await until(lambda: len(home.requests.requests()) == 1, street.sync_all)
    client = home.household.membership.client
    room_id = await direct_room(
        client, home.household.data_dir / "police", str(group.host.client.user_id)
    )
    half_made = MatrixRoom(room_id, str(client.user_id))  # what such a sync leaves nio with
    half_made.add_member(str(client.user_id), None, None)
    client.rooms[room_id] = half_made
    await home.requests.answer(sent.request.request_id, "household", ["a1"])

    def counted() -> list[Any]:
        ledger = read_json(group.host.folder / LEDGER_FILE) or {}
        return list(ledger.get("receipts", {}).values())

    [receipt] = await until(counted, street.sync_all)
    assert (receipt["request_id"], receipt["clip_count"]) == (sent.request.request_id, 1)


async def _notices(street: Street) -> list[str]:
    """The transparency notices the plain member's client shows in `requests`."""
    room = street.group.host.group().rooms["requests"]
    bodies: list[str] = []
    for _ in range(10):
        response = await street.group.member.sync()
        info = response.rooms.join.get(room)
        if info is not None:
            bodies += [
                str(event.source.get("content", {}).get("body", ""))
                for event in info.timeline.events
            ]
        reports = [body for body in bodies if body.startswith("Transparency report")]
        if reports:
            return reports
    return []
