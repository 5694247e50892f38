"""The group side of police requests on a real Synapse: admins admit agencies, the bot enforces."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nio.responses import ErrorResponse, RoomGetEventResponse, RoomSendResponse

from doorward_hub.core.backoff import Backoff
from doorward_hub.neighborhood.errors import MatrixError
from doorward_hub.neighborhood.event_types import AGENCY, GroupPolicy
from doorward_hub.police.event_types import REQUEST
from doorward_hub.police.moderation import Decision

from .groups import PoliceGroup, draft, make_group, until

pytestmark = pytest.mark.timeout(300)  # real hubs and Synapse; slow on a loaded machine


@pytest.fixture
async def street(homeserver: Any, tmp_path: Path) -> AsyncIterator[PoliceGroup]:
    """Elm Street (windows up to 2 h, no warrant needed) with its bot, Elm PD and a member."""
    made = await make_group(homeserver, tmp_path, GroupPolicy(max_request_window_minutes=120))
    yield made
    await made.close()


async def _decided(street: PoliceGroup, event_id: str) -> Decision:
    def found() -> Decision | None:
        return next((d for d in street.bot.decisions if d.event_id == event_id), None)

    return await until(found, street.bot.sync_once)


async def _content_now(street: PoliceGroup, event_id: str) -> dict[str, Any]:
    room = street.host.group().rooms["requests"]
    response = await street.host.client.room_get_event(room, event_id)
    assert isinstance(response, RoomGetEventResponse), response
    return dict(response.event.source.get("content", {}))


async def test_only_admins_admit_and_the_agency_is_only_in_requests(street: PoliceGroup) -> None:
    """Admitting writes the record and invites to the space and `requests` only; a member
    cannot write agency records; suspend/remove change the status, remove also takes the agency
    out of the group's rooms."""
    records = await street.admin.agencies()
    assert [(r.user_id, r.name, r.status) for r in records] == [
        (street.agency_id, "Elm PD", "active")
    ]
    assert records[0].admitted_by == street.host.client.user_id
    group = street.host.group()
    assert set(street.agency.membership.client.rooms) == {group.space_id, group.rooms["requests"]}

    forged = await street.member.client.room_put_state(
        group.space_id,
        AGENCY,
        {"name": "Fake PD", "status": "active"},
        state_key="agency:@x:street.test",
    )
    assert isinstance(forged, ErrorResponse)
    assert [r.user_id for r in await street.admin.agencies()] == [street.agency_id]

    with pytest.raises(MatrixError, match="member of the group"):
        await street.admin.admit(str(street.member.client.user_id), "Fake PD", "Nowhere")
    with pytest.raises(MatrixError, match="not a Matrix user id"):
        await street.admin.admit("police", "Elm PD", "Elm County")
    with pytest.raises(MatrixError, match="not an agency"):
        await street.admin.suspend("@nobody:street.test", "no reason")

    suspended = await street.admin.suspend(street.agency_id, "pending review")
    assert (suspended.status, suspended.reason) == ("suspended", "pending review")
    reinstated = await street.admin.admit(street.agency_id, "Elm PD", "Elm County")
    assert reinstated.status == "active"
    removed = await street.admin.remove(street.agency_id, "contract ended")
    assert removed.status == "removed"
    for room_id in (group.space_id, group.rooms["requests"]):
        member_state = await street.host.client.room_get_state_event(
            room_id, "m.room.member", street.agency_id
        )
        assert member_state.content["membership"] == "leave"
    with pytest.raises(MatrixError, match="not an agency"):
        await street.admin.remove(street.agency_id, "again")


async def test_the_bot_keeps_valid_requests_and_takes_down_the_rest(street: PoliceGroup) -> None:
    """A valid request stays; out-of-policy, replayed, altered, non-agency and suspended-agency
    requests are redacted, the room is told why, and both audit logs record it."""
    sent_valid = await street.agency.send_request(draft())
    valid, valid_event = sent_valid.request, sent_valid.event_id
    accepted = await _decided(street, valid_event)
    assert accepted.refusal is None
    assert accepted.request_id == valid.request_id
    assert (await _content_now(street, valid_event))["case_number"] == "2026-1234"

    async def refused(event_id: str) -> str:
        decision = await _decided(street, event_id)
        assert decision.refusal is not None
        assert await _content_now(street, event_id) == {}  # redacted
        return decision.refusal.code

    now = valid.created_ms
    too_long = await street.agency.send_request(draft(window_start_ms=now - 5 * 3600_000))
    assert await refused(too_long.event_id) == "out_of_policy"

    replay = await street.agency.send_content(valid.to_content())
    assert await refused(replay) == "replayed"
    altered_content = dataclasses.replace(valid, description="Anything at all").to_content()
    assert await refused(await street.agency.send_content(altered_content)) == "replayed"

    forged = dataclasses.replace(valid, request_id="req-forged01").to_content()
    sent = await street.member.client.room_send(
        street.host.group().rooms["requests"], REQUEST, forged, ignore_unverified_devices=True
    )
    assert isinstance(sent, RoomSendResponse), sent
    assert await refused(str(sent.event_id)) == "not_an_agency"
    other_agency = dataclasses.replace(
        valid, request_id="req-namesother", agency="@state-police:street.test"
    )
    assert await refused(await street.agency.send_content(other_agency.to_content())) == (
        "sender_mismatch"
    )
    own_name = dataclasses.replace(
        valid, request_id="req-forged02", agency=str(street.member.client.user_id)
    ).to_content()
    sent = await street.member.client.room_send(
        street.host.group().rooms["requests"], REQUEST, own_name, ignore_unverified_devices=True
    )
    assert isinstance(sent, RoomSendResponse), sent
    assert await refused(str(sent.event_id)) == "not_an_agency"

    await street.admin.suspend(street.agency_id, "pending review")
    while_suspended = await street.agency.send_request(draft())
    assert await refused(while_suspended.event_id) == "agency_suspended"

    await until(lambda: len(street.agency.rejections) >= 5, street.agency.sync_once)
    codes = [r.code for r in street.agency.rejections]
    assert codes == ["out_of_policy", "replayed", "replayed", "sender_mismatch", "agency_suspended"]
    assert "longer than the group's limit of 120 minutes" in street.agency.rejections[0].reason
    assert "altered copy" in street.agency.rejections[2].reason

    host_log = [(e.action, e.details.get("code")) for e in await street.host_audit.entries()]
    assert host_log == [
        ("request.accepted", None),
        ("request.refused", "out_of_policy"),
        ("request.refused", "replayed"),
        ("request.refused", "replayed"),
        ("request.refused", "not_an_agency"),
        ("request.refused", "sender_mismatch"),
        ("request.refused", "not_an_agency"),
        ("request.refused", "agency_suspended"),
    ]
    agency_log = [e.action for e in await street.agency_audit.entries()]
    assert agency_log.count("request.sent") == 3
    assert agency_log.count("request.taken_down") == 5


async def test_the_bot_service_outlives_an_outage_and_crafted_requests(
    street: PoliceGroup, caplog: pytest.LogCaptureFixture
) -> None:
    """`group moderate` runs `RequestModerator.run`: it keeps going while the homeserver cannot
    be reached (backing off), then decides what was sent meanwhile (a take-down that failed in
    the outage is done after it); a member's crafted request is refused, the loop goes on."""
    synced = asyncio.Event()
    task = asyncio.create_task(street.bot.run(synced=synced.set, backoff=Backoff(0.2, 1.0)))
    try:
        await asyncio.sleep(0.5)  # the bot's long poll is waiting at the homeserver
        client = street.host.client
        homeserver = client.homeserver
        client.homeserver = "http://127.0.0.1:9"  # nothing listens there: an outage
        # A member's crafted request ends the bot's long poll; taking it down fails (outage).
        crafted = {"msgtype": "m.notice", "body": "x", "request_id": 7, "area": "everywhere"}
        sent = await street.member.client.room_send(
            street.host.group().rooms["requests"], REQUEST, crafted, ignore_unverified_devices=True
        )
        assert isinstance(sent, RoomSendResponse), sent
        for _ in range(150):
            if caplog.text.count("request moderation sync failed") >= 2:
                break
            await asyncio.sleep(0.2)
        assert caplog.text.count("request moderation sync failed") >= 2
        assert not task.done()
        valid = await street.agency.send_request(draft())
        client.homeserver = homeserver  # the homeserver is back

        def decided() -> dict[str, Decision] | None:
            found = {d.event_id: d for d in street.bot.decisions}
            return found if {sent.event_id, valid.event_id} <= set(found) else None

        for _ in range(300):
            if decided():
                break
            await asyncio.sleep(0.2)
        decisions = decided()
        assert decisions is not None
        refusal = decisions[sent.event_id].refusal
        assert refusal is not None
        assert refusal.code == "malformed"
        assert decisions[valid.event_id].refusal is None
        # The decisions come within a sync; `synced` once the whole round (receipt rooms, the
        # monthly report) is done.
        await asyncio.wait_for(synced.wait(), timeout=30)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
