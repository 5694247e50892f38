"""Police requests in Home Assistant against a real hub, a real Synapse, the group bot and a real
agency hub: a request reaches Home Assistant (event, sensor, notification, Repairs issue, media
browser), a reconnect reads what the push missed, the Repairs fix flow shares a chosen clip that
the agency verifies, the action declines, and the options flow's decline rules decline on their
own (and never share)."""

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import media_source
from homeassistant.components.persistent_notification import (
    _async_get_or_create_notifications as notifications,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.diagnostics import async_get_config_entry_diagnostics
from custom_components.doorward.police import request_issue_id
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_simulator import SimulatedDoorbell

from ...police.groups import PoliceGroup, draft, make_group, until
from ..conftest import HubRunner, wait_for
from .recording import recording_hub, track_clips, wait_buffering
from .test_neighborhood_hub import homeserver

__all__ = ["homeserver"]

pytestmark = pytest.mark.timeout(600)  # real hubs and Synapse; slow on a loaded machine

POLICE_REQUEST = "event.test_hub_police_request"
PENDING = "sensor.test_hub_pending_police_requests"
HOME = (52.3702, 4.8952)  # inside the requests' block (tests/police/groups.py)


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


@pytest.fixture
async def group(homeserver: Any, tmp_path: Path) -> AsyncIterator[PoliceGroup]:
    """Elm Street with its bot and Elm PD."""
    made = await make_group(homeserver, tmp_path / "group", GroupPolicy())
    yield made
    await made.close()


async def _options(hass: HomeAssistant, entry: ConfigEntry, step: str) -> dict[str, Any]:
    menu = await hass.config_entries.options.async_init(entry.entry_id)
    assert menu["type"] is FlowResultType.MENU
    assert menu["menu_options"] == ["group", "decline_rules"]
    result: dict[str, Any] = await hass.config_entries.options.async_configure(
        menu["flow_id"], {"next_step_id": step}
    )
    return result


async def _fix(client: Any, flow_id: str | None, body: dict[str, Any], issue_id: str = "") -> Any:
    """Open (flow_id None) or advance a Repairs fix flow through Home Assistant's HTTP API."""
    if flow_id is None:
        body = {"handler": DOMAIN, "issue_id": issue_id}
    path = "/api/repairs/issues/fix" + (f"/{flow_id}" if flow_id else "")
    response = await client.post(path, json=body)
    assert response.status == 200, await response.text()
    return await response.json()


def _requests_fired(hass: HomeAssistant) -> list[dict[str, Any]]:
    fired: list[dict[str, Any]] = []

    def changed(event: Event[Any]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is not None and new is not None and old.state != new.state:
            fired.append(dict(new.attributes))

    async_track_state_change_event(hass, [POLICE_REQUEST], changed)
    return fired


async def test_a_request_is_shown_in_full_and_answered_by_hand(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry,
    *, group: PoliceGroup, hass_client: ClientSessionGenerator,
) -> None:  # fmt: skip
    """The whole household side in Home Assistant, with every refusal translated."""
    hass.config.latitude, hass.config.longitude = HOME
    assert await async_setup_component(hass, "media_source", {})
    assert await async_setup_component(hass, "repairs", {})
    data = config_entry.runtime_data
    entry_id = config_entry.entry_id
    assert hass.states.get(PENDING).state == "0"
    form = await _options(hass, config_entry, "group")
    joined = await hass.config_entries.options.async_configure(
        form["flow_id"], {"invite": (await group.host.invite()).encode()}
    )
    assert joined["type"] is FlowResultType.CREATE_ENTRY
    clips = track_clips(hass)
    await wait_buffering(hub)
    await doorbell.press()
    await wait_for(lambda: clips, timeout=30)
    clip_id = str(clips[0]["clip_id"])
    for _ in range(3):
        await group.bot.sync_once()
        await group.agency.sync_once()

    # A request arrives: the event in full, the sensor, the notification, the Repairs issue.
    fired = _requests_fired(hass)
    now_ms = int(time.time() * 1000)
    first = (await group.agency.send_request(
        draft(window_start_ms=now_ms - 3600_000, window_end_ms=now_ms)
    )).request  # fmt: skip
    await wait_for(lambda: fired, timeout=60)
    event = fired[0]
    assert event["event_type"] == "received"
    assert (event["request_id"], event["case_number"]) == (first.request_id, "2026-1234")
    assert (event["agency"], event["legal_basis"]) == (group.agency_id, "consent")
    assert (event["warrant_attached"], event["matching_clip_count"]) == (False, 1)
    assert event["area_m2"] == first.area_m2
    assert event["incident_type"] == "burglary"
    assert event["window_start"].startswith(time.strftime("%Y-", time.gmtime()))
    pending = hass.states.get(PENDING)
    assert pending.state == "1"
    assert pending.attributes["requests"] == [
        {"request_id": first.request_id, "case_number": "2026-1234",
         "agency": group.agency_id, "matching_clip_count": 1},
    ]  # fmt: skip
    issue_id = request_issue_id(entry_id, first.request_id)
    note = notifications(hass)[issue_id]
    assert "2026-1234" in note["title"]
    for words in ("Break-in at number 12", "warrant not attached", "Matching clips: 1",
                  "detective@elm-pd.example", "Nothing is shared unless you answer"):  # fmt: skip
        assert words in note["message"]
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert (issue.is_fixable, issue.translation_key) == (True, "police_request")
    assert issue.translation_placeholders["count"] == "1"

    # The matching clip is in the media browser under the request, and plays.
    hub_node = await media_source.async_browse_media(hass, f"media-source://doorward/{entry_id}")
    police = next(c for c in hub_node.children if c.title == "Police requests")
    police = await media_source.async_browse_media(hass, police.media_content_id)
    assert [c.title for c in police.children] == ["2026-1234 (burglary, 1 clips)"]
    request_node = await media_source.async_browse_media(hass, police.children[0].media_content_id)
    assert [c.media_content_id.rsplit("/", 1)[1] for c in request_node.children] == [clip_id]
    played = await media_source.async_resolve_media(
        hass, request_node.children[0].media_content_id, None
    )
    assert played.mime_type == "video/mp4"

    # Reconnecting reads what the push channel missed meanwhile.
    await data.async_stop()
    second = (await group.agency.send_request(draft(
        window_start_ms=now_ms - 1800_000, window_end_ms=now_ms, case_number="2026-1235"
    ))).request  # fmt: skip

    async def listed() -> bool:
        await group.agency.sync_once(timeout_ms=500)
        _, body = await hub.api("GET", "/police/requests")
        return any(r["request_id"] == second.request_id for r in body["requests"])

    await wait_for(listed, timeout=60)
    assert len(fired) == 1
    data.async_start()
    await wait_for(lambda: len(fired) == 2, timeout=30)
    assert (fired[1]["request_id"], fired[1]["event_type"]) == (second.request_id, "received")
    await wait_for(lambda: hass.states.get(PENDING).state == "2")

    # Refusals, translated: no such request, clips it does not match.
    for call, key in (
        ({"request_id": "req-unknown-1"}, "unknown_request"),
        ({"request_id": first.request_id, "clip_ids": ["999999"]}, "request_clips_not_matching"),
    ):
        with pytest.raises(ServiceValidationError) as refused:
            await hass.services.async_call(DOMAIN, "answer_request", call, blocking=True)
        assert refused.value.translation_key == key

    # The Repairs fix flow: the menu, then "Choose clips"; only the submit shares.
    client = await hass_client()
    flow = await _fix(client, None, {}, issue_id)
    assert (flow["type"], flow["step_id"]) == ("menu", "init")
    assert flow["menu_options"] == ["share_all", "choose", "decline"]
    assert flow["description_placeholders"]["count"] == "1"
    form = await _fix(client, flow["flow_id"], {"next_step_id": "choose"})
    assert form["step_id"] == "choose"
    options = form["data_schema"][0]["selector"]["select"]["options"]
    assert [o["value"] for o in options] == [clip_id]
    assert options[0]["label"].startswith("Front door: ")
    assert group.agency.evidence.items() == []
    form = await _fix(client, flow["flow_id"], {"clip_ids": []})
    assert form["errors"] == {"base": "no_clips_chosen"}
    done = await _fix(client, flow["flow_id"], {"clip_ids": [clip_id], "retention_days": 5})
    assert done["type"] == "create_entry"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert issue_id not in notifications(hass)
    assert hass.states.get(PENDING).state == "1"
    items = await until(group.agency.evidence.items, group.agency.sync_once)
    assert [i.verified for i in items] == [True]

    # Another client declines the second while its fix flow is open: submitting that flow ends
    # it without answering, and Home Assistant shows what the hub says now.
    second_issue = request_issue_id(entry_id, second.request_id)
    open_flow = await _fix(client, None, {}, second_issue)
    form = await _fix(client, open_flow["flow_id"], {"next_step_id": "decline"})
    assert form["step_id"] == "decline"
    status, _ = await hub.api("POST", f"/police/requests/{second.request_id}/decline")
    assert status == 204
    closed = await _fix(client, open_flow["flow_id"], {})
    assert (closed["type"], closed["reason"]) == ("abort", "request_closed")
    assert hass.states.get(PENDING).state == "0"
    assert ir.async_get(hass).async_get_issue(DOMAIN, second_issue) is None
    for service in ("answer_request", "decline_request"):
        with pytest.raises(ServiceValidationError) as again:
            await hass.services.async_call(
                DOMAIN, service, {"request_id": second.request_id}, blocking=True
            )
        assert again.value.translation_key == "request_not_pending"

    # Decline rules from the options flow: read from the hub, a bad one refused, then kept.
    form = await _options(hass, config_entry, "decline_rules")
    assert form["step_id"] == "decline_rules"
    refused = await hass.config_entries.options.async_configure(
        form["flow_id"], {"require_warrant": True, "allowed_agencies": ["Elm PD"]}
    )
    assert refused["errors"] == {"base": "invalid_rules"}
    kept = await hass.config_entries.options.async_configure(
        form["flow_id"], {"require_warrant": True, "max_window_minutes": 240}
    )
    assert kept["type"] is FlowResultType.CREATE_ENTRY
    rules = (await hub.api("GET", "/police/decline-rules"))[1]
    assert rules == {"require_warrant": True, "allowed_agencies": None,
                     "max_area_m2": None, "max_window_minutes": 240}  # fmt: skip
    form = await _options(hass, config_entry, "decline_rules")
    schema = {str(marker): marker for marker in form["data_schema"].schema}
    assert schema["require_warrant"].description == {"suggested_value": True}

    # A request without a warrant is declined by the rule on the hub: no question, no share.
    third = (await group.agency.send_request(draft(
        window_start_ms=now_ms - 1800_000, window_end_ms=now_ms, case_number="2026-1236"
    ))).request  # fmt: skip
    await wait_for(lambda: len(fired) == 3, timeout=60)
    assert (fired[2]["request_id"], fired[2]["event_type"]) == (third.request_id, "auto_declined")
    assert (fired[2]["declined_by_rule"], fired[2]["decline_reason"]) == (
        "no_warrant", "no warrant document is attached",
    )  # fmt: skip
    assert hass.states.get(PENDING).state == "0"
    assert request_issue_id(entry_id, third.request_id) not in notifications(hass)

    # Diagnostics: the requests, the rules and the audit trail, without details.
    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)
    police = diagnostics["police"]
    assert sorted(r["state"] for r in police["requests"]) == ["answered", "declined", "declined"]
    assert police["decline_rules"] == rules
    actions = [entry["action"] for entry in police["audit"]]
    for action in ("request.auto_declined", "request.declined", "request.answered",
                   "export.delivered", "request.pending", "group.joined"):  # fmt: skip
        assert action in actions
    assert all(set(entry) == {"seq", "time", "action", "subject"} for entry in police["audit"])
    for _ in range(3):
        await group.agency.sync_once(timeout_ms=500)
    assert len(group.agency.evidence.items()) == 1
