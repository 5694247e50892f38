"""The answer-a-police-request blueprint, loaded by Home Assistant's blueprint machinery, driven
by the police request entity of a hub connected for real (the request itself is pushed as the hub
pushes it; the whole path through a real group is in test_police_hub)."""

import asyncio
import time
from typing import Any

import pytest
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from custom_components.doorward.const import DOMAIN

from ..conftest import HubRunner, wait_for
from .blueprints import async_setup_blueprint_automation, install_blueprint

BLUEPRINT = "doorward/answer_police_request.yaml"
POLICE_REQUEST = "event.test_hub_police_request"
HOUR_MS = 3600_000


def police_request(request_id: str, **changes: Any) -> dict[str, Any]:
    """A `police_request` push message as the hub sends it."""
    now_ms = int(time.time() * 1000)
    request: dict[str, Any] = {
        "request_id": request_id,
        "agency": "@elm-pd:street.test",
        "agency_name": "Elm PD",
        "agency_jurisdiction": "Elm County",
        "case_number": "2026-1234",
        "incident_type": "burglary",
        "description": "Break-in at number 12",
        "legal_basis": "warrant",
        "has_warrant": True,
        "area_cells": 40,
        "area_m2": 420_000,
        "window_start_ms": now_ms - 3 * HOUR_MS,
        "window_end_ms": now_ms - 2 * HOUR_MS,
        "expires_ms": now_ms + 24 * HOUR_MS,
        "contact": "detective@elm-pd.example",
        "received_ms": now_ms,
        "state": "pending",
        "clip_ids": ["3", "4"],
        "shared_clip_ids": [],
        "held_clip_ids": ["3", "4"],
        "declined_by_rule": None,
        "decline_reason": None,
    }
    request.update(changes)
    return {"type": "police_request", "request": request}


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config folder holding the repository's blueprint, as a user would install it."""
    return install_blueprint(hass_tmp_config_dir, BLUEPRINT)


async def test_blueprint_is_valid(hass: HomeAssistant) -> None:
    """Home Assistant loads and validates the blueprint and its inputs."""
    blueprint = await async_get_blueprints(hass).async_get_blueprint(BLUEPRINT)
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {
        "request_event", "notify_device", "retention_days", "answer_within",
    }  # fmt: skip
    selector = blueprint.inputs["request_event"]["selector"]["entity"]["filter"][0]
    assert selector == {"integration": "doorward", "domain": ["event"]}


@pytest.mark.parametrize("answer", ["share", "decline", "review", None])
async def test_only_a_tap_answers_and_only_share_shares(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry, answer: str | None
) -> None:
    """A request asks the phone with the request in full and three buttons; "Share matching
    clips" calls `doorward.answer_request` for that request only, "Decline" declines it,
    "Review" (it only opens Repairs) and no answer within the time limit share nothing. A
    request a decline rule declined asks nothing."""
    phone_entry = MockConfigEntry(domain="mobile_app", title="Pixel 9")
    phone_entry.add_to_hass(hass)
    phone = dr.async_get(hass).async_get_or_create(
        config_entry_id=phone_entry.entry_id, identifiers={("mobile_app", "pixel")}, name="Pixel 9"
    )
    questions = async_mock_service(hass, "notify", "mobile_app_pixel_9")
    answers = async_mock_service(hass, DOMAIN, "answer_request")
    declines = async_mock_service(hass, DOMAIN, "decline_request")
    await async_setup_blueprint_automation(
        hass,
        BLUEPRINT,
        "Police request",
        {
            "request_event": POLICE_REQUEST,
            "notify_device": phone.id,
            "retention_days": 14,
            "answer_within": {"seconds": 2},
        },
    )
    data = config_entry.runtime_data
    await wait_for(lambda: data.connected)
    data.async_handle_message(police_request("req-declined-1", state="declined",
                                             declined_by_rule="no_warrant",
                                             decline_reason="no warrant"))  # fmt: skip
    await hass.async_block_till_done()
    assert hass.states.get(POLICE_REQUEST).attributes["event_type"] == "auto_declined"
    assert questions == []

    data.async_handle_message(police_request("req-0001abcd"))
    await wait_for(lambda: questions, timeout=10)
    question = questions[0].data
    assert question["title"] == "Police request 2026-1234 from Elm PD"
    for words in ("burglary: Break-in at number 12", "Legal basis: warrant, warrant attached",
                  "Area: about 0.42 km²", "Matching clips: 2", "detective@elm-pd.example",
                  "Nothing is shared unless you tap Share"):  # fmt: skip
        assert words in question["message"], (words, question["message"])
    buttons = question["data"]["actions"]
    assert [b["title"] for b in buttons] == ["Share matching clips", "Review", "Decline"]
    share, review, decline = (b["action"] for b in buttons)
    assert share.startswith("DOORWARD_POLICE_SHARE_req-0001abcd_")
    assert decline.startswith("DOORWARD_POLICE_DECLINE_req-0001abcd_")
    assert (review, buttons[1]["uri"]) == ("URI", "/config/repairs")
    assert question["data"]["tag"] == "doorward-police-req-0001abcd"

    # A tap on another request's (or an older question's) button answers nothing.
    hass.bus.async_fire("mobile_app_notification_action", {"action": "DOORWARD_POLICE_SHARE_x"})
    tapped = {"share": share, "decline": decline, "review": review}.get(answer or "")
    if tapped is not None:
        hass.bus.async_fire("mobile_app_notification_action", {"action": tapped})
    await asyncio.sleep(2.5)
    await hass.async_block_till_done()
    shared = [{"request_id": "req-0001abcd", "retention_days": 14}]
    assert [dict(call.data) for call in answers] == (shared if answer == "share" else [])
    declined = [{"request_id": "req-0001abcd"}]
    assert [dict(call.data) for call in declines] == (declined if answer == "decline" else [])
