"""Police requests in Home Assistant as the hub pushes them: expiry withdraws what a request
asked, a malformed message is skipped, a hub that cannot list its requests keeps the doorbells
connected, and the share-all answer of the fix flow (the whole path through a real group is in
test_police_hub)."""

import time
from datetime import timedelta
from typing import Any

import pytest
from homeassistant.components.persistent_notification import (
    _async_get_or_create_notifications as notifications,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.police import request_issue_id
from custom_components.doorward.repairs import PoliceRequestFlow

from ..conftest import HubRunner, wait_for
from .test_blueprint_police import POLICE_REQUEST, police_request

PENDING = "sensor.test_hub_pending_police_requests"


def _issue(hass: HomeAssistant, entry: ConfigEntry, request_id: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, request_issue_id(entry.entry_id, request_id))


async def test_expiry_withdraws_the_question(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry
) -> None:
    """A pending request's notification and issue go when it expires; one that arrives expired
    asks nothing; answered ones are not announced again."""
    data = config_entry.runtime_data
    await wait_for(lambda: data.connected)
    now_ms = int(time.time() * 1000)
    data.async_handle_message(police_request("req-expiring", expires_ms=now_ms + 60_000))
    data.async_handle_message(police_request("req-expired1", expires_ms=now_ms - 1))
    data.async_handle_message({"type": "police_request", "request": {"request_id": 5}})
    await hass.async_block_till_done()
    assert hass.states.get(PENDING).state == "1"
    assert _issue(hass, config_entry, "req-expiring") is not None
    assert _issue(hass, config_entry, "req-expired1") is None
    assert hass.states.get(POLICE_REQUEST).attributes["request_id"] == "req-expiring"
    assert data.police.requests["req-expired1"].state == "expired"

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2))
    await hass.async_block_till_done()
    assert hass.states.get(PENDING).state == "0"
    assert _issue(hass, config_entry, "req-expiring") is None
    assert request_issue_id(config_entry.entry_id, "req-expiring") not in notifications(hass)
    assert data.police.requests["req-expiring"].state == "expired"


async def test_a_hub_that_cannot_list_requests_keeps_the_doorbells(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry
) -> None:
    """Not in a group: the list is empty and the connection stands; a refused list (another
    error) is logged and the requests shown stay."""
    data = config_entry.runtime_data
    await wait_for(lambda: data.connected)
    data.async_handle_message(police_request("req-0001abcd"))
    await hass.async_block_till_done()

    async def refused(*_: Any) -> Any:
        from custom_components.doorward.api import DoorwardApiError

        raise DoorwardApiError("HTTP 409 other", status=409, code="other")

    data.client.police_requests = refused  # type: ignore[method-assign]
    await data.police.async_refresh(data.client)
    assert list(data.police.requests) == ["req-0001abcd"]
    del data.client.police_requests
    await hub.stop()
    await wait_for(lambda: not data.connected)
    await data.police.async_refresh(data.client)  # cannot connect
    assert list(data.police.requests) == ["req-0001abcd"]
    await hub.start()
    await wait_for(lambda: data.connected)  # the sensor is unavailable until then
    await data.police.async_refresh(data.client)  # 409 not_joined: this hub shows none
    await hass.async_block_till_done()
    assert data.police.requests == {}
    assert _issue(hass, config_entry, "req-0001abcd") is None
    assert hass.states.get(PENDING).state == "0"


async def test_the_fix_flow_shares_all_only_on_submit(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:  # fmt: skip
    """ "Share all" is a form: opening it shares nothing; submitting calls the hub's answer (here
    refused, as this hub is in no group: the flow ends with the reason); a hub that went away
    ends the flow."""
    assert await async_setup_component(hass, "repairs", {})
    data = config_entry.runtime_data
    await wait_for(lambda: data.connected)
    data.async_handle_message(police_request("req-0001abcd"))
    await hass.async_block_till_done()
    client = await hass_client()
    issue_id = request_issue_id(config_entry.entry_id, "req-0001abcd")

    async def post(path: str, body: dict[str, Any]) -> Any:
        response = await client.post(path, json=body)
        assert response.status == 200, await response.text()
        return await response.json()

    flow = await post("/api/repairs/issues/fix", {"handler": DOMAIN, "issue_id": issue_id})
    fix = f"/api/repairs/issues/fix/{flow['flow_id']}"
    form = await post(fix, {"next_step_id": "share_all"})
    assert (form["type"], form["step_id"]) == ("form", "share_all")
    assert form["description_placeholders"]["count"] == "2"
    done = await post(fix, {"retention_days": 7})
    assert (done["type"], done["reason"]) == ("abort", "answer_failed")

    flow = await post("/api/repairs/issues/fix", {"handler": DOMAIN, "issue_id": issue_id})
    fix = f"/api/repairs/issues/fix/{flow['flow_id']}"
    form = await post(fix, {"next_step_id": "decline"})
    assert form["step_id"] == "decline"
    await hub.stop()
    done = await post(fix, {})
    assert (done["type"], done["reason"]) == ("abort", "cannot_connect")


async def test_decline_rules_in_the_options_and_refused_answers(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry
) -> None:
    """The options keep the rules on the hub (in a group or not); a hub that is down is said so;
    an answer the hub refuses for another reason, or cannot take, is a translated error."""
    data = config_entry.runtime_data
    await wait_for(lambda: data.connected)
    menu = await hass.config_entries.options.async_init(config_entry.entry_id)
    form = await hass.config_entries.options.async_configure(
        menu["flow_id"], {"next_step_id": "decline_rules"}
    )
    assert (form["step_id"], form["errors"]) == ("decline_rules", {})
    done = await hass.config_entries.options.async_configure(
        form["flow_id"],
        {"require_warrant": False, "allowed_agencies": [" @pd:x.test ", ""], "max_area_m2": 5e5},
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert (await hub.api("GET", "/police/decline-rules"))[1] == {
        "require_warrant": False, "allowed_agencies": ["@pd:x.test"],
        "max_area_m2": 500000, "max_window_minutes": None,
    }  # fmt: skip

    data.async_handle_message(police_request("req-0001abcd"))
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            DOMAIN, "answer_request", {"request_id": "req-0001abcd"}, blocking=True
        )
    assert refused.value.translation_key == "answer_failed"  # 409 not_joined

    menu = await hass.config_entries.options.async_init(config_entry.entry_id)
    form = await hass.config_entries.options.async_configure(
        menu["flow_id"], {"next_step_id": "decline_rules"}
    )
    await hub.stop()
    failed = await hass.config_entries.options.async_configure(
        form["flow_id"], {"require_warrant": True}
    )
    assert failed["errors"] == {"base": "cannot_connect"}
    menu = await hass.config_entries.options.async_init(config_entry.entry_id)
    aborted = await hass.config_entries.options.async_configure(
        menu["flow_id"], {"next_step_id": "decline_rules"}
    )
    assert (aborted["type"], aborted["reason"]) == (FlowResultType.ABORT, "cannot_connect")
    with pytest.raises(HomeAssistantError) as down:
        await hass.services.async_call(
            DOMAIN, "decline_request", {"request_id": "req-0001abcd"}, blocking=True
        )
    assert down.value.translation_key == "hub_unreachable"


async def test_the_fix_flow_when_the_request_or_the_hub_went_away(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry
) -> None:
    """A flow of an unloaded hub or a closed request ends at once; clips the hub no longer has
    are listed as such; a hub that cannot be reached ends the flow with that reason."""
    data = config_entry.runtime_data
    await wait_for(lambda: data.connected)
    gone = PoliceRequestFlow("no-such-entry", "req-0001abcd")
    gone.hass = hass
    assert (await gone.async_step_init())["reason"] == "request_closed"

    data.async_handle_message(police_request("req-0001abcd"))
    await hass.async_block_till_done()
    flow = PoliceRequestFlow(config_entry.entry_id, "req-0001abcd")
    flow.hass = hass
    flow.handler, flow.flow_id = DOMAIN, "f1"
    assert (await flow.async_step_init())["type"] is FlowResultType.MENU
    form = await flow.async_step_choose()
    options = form["data_schema"].schema["clip_ids"].config["options"]  # type: ignore[union-attr]
    assert [o["label"] for o in options] == [
        "Clip 3 (no longer on the hub)", "Clip 4 (no longer on the hub)",
    ]  # fmt: skip
    assert (await flow.async_step_decline({}))["reason"] == "answer_failed"  # not_joined

    await hub.stop()
    assert (await flow.async_step_choose())["reason"] == "cannot_connect"
    assert (await flow.async_step_share_all({}))["reason"] == "cannot_connect"
    assert (await flow.async_step_decline({}))["reason"] == "cannot_connect"

    data.async_handle_message(police_request("req-0001abcd", state="answered"))
    await hass.async_block_till_done()
    for step in (flow.async_step_share_all, flow.async_step_choose, flow.async_step_decline):
        assert (await step())["reason"] == "request_closed"
