"""Neighborhood groups in Home Assistant: the group's device and entities as the hub's pushed
status and posts drive them, posts today across midnight, and both blueprints."""

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.data import DoorwardData, doorbell_identifier
from custom_components.doorward.neighborhood import group_identifier
from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, HubRunner, wait_for
from .recording import CLIP_EVENT, recording_hub, wait_buffering

REPO = Path(__file__).parents[3]
POST_ENTITY = "event.elm_street_neighbor_post"
POSTS_TODAY = "sensor.elm_street_posts_today"
MEMBERS = "sensor.elm_street_members"
REMOVED = "binary_sensor.elm_street_removed_from_the_group"
OWN_ID = "@hub-ffffffffff:street.test"
SHARE_BLUEPRINT = "doorward/share_clip_with_neighbors.yaml"
NOTIFY_BLUEPRINT = "doorward/notify_on_neighbor_post.yaml"


def _status(**changes: Any) -> dict[str, Any]:
    """A `neighborhood` push message: this hub in "Elm Street" unless `changes` say otherwise."""
    status: dict[str, Any] = {
        "joined": True,
        "group_name": "Elm Street",
        "user_id": OWN_ID,
        "home_cell": "881f1d4813fffff",
        "removed": None,
        "sync_error": None,
        "member_count": 4,
    }
    status.update(changes)
    return {"type": "neighborhood", "status": status}


async def _join(hass: HomeAssistant, data: DoorwardData, **changes: Any) -> None:
    data.async_handle_message(_status(**changes))
    await hass.async_block_till_done()


def _post(event_id: str, cells: int | None, **changes: Any) -> dict[str, Any]:
    post: dict[str, Any] = {
        "event_id": event_id,
        "sender": "@hub-0a1b2c3d4e:street.test",
        "sent_ms": int(dt_util.utcnow().timestamp() * 1000),
        "kind": "video",
        "body": "Parcel gone\n\nDoorbell clip (press, 12 s) from 2026-09-21 14:03 UTC.",
        "message": "Parcel gone",
        "cell": None if cells is None else "881f1d4813fffff",
        "cells_from_home": cells,
        "start_ms": 1_790_000_000_000,
        "duration_ms": 12_000,
        "trigger": "press",
        "verified": True,
        "verification": "signature and hashes match",
        "has_video": True,
        "has_thumbnail": True,
    }
    post.update(changes)
    return post


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config folder holding the repository's blueprints, as a user would install them."""
    target = Path(hass_tmp_config_dir) / "blueprints" / "automation" / "doorward"
    target.mkdir(parents=True)
    for blueprint in (SHARE_BLUEPRINT, NOTIFY_BLUEPRINT):
        shutil.copy(REPO / "blueprints" / "automation" / blueprint, target)
    return hass_tmp_config_dir


async def _automation(hass: HomeAssistant, blueprint: str, inputs: dict[str, object]) -> None:
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "a1",
                "alias": "A1",
                "use_blueprint": {"path": blueprint, "input": inputs},
            }
        },
    )
    await hass.async_block_till_done()


async def test_blueprints_are_valid(hass: HomeAssistant) -> None:
    """Home Assistant loads both blueprints with their inputs."""
    blueprints = async_get_blueprints(hass)
    share = await blueprints.async_get_blueprint(SHARE_BLUEPRINT)
    assert set(share.inputs) == {
        "clip_event", "triggers_wanted", "notify_device", "message", "answer_within",
    }  # fmt: skip
    notify = await blueprints.async_get_blueprint(NOTIFY_BLUEPRINT)
    assert set(notify.inputs) == {"post_event", "max_cells", "include_unplaced", "notify_action"}


async def test_neighbor_post_fires_and_notifies_within_range(
    hass: HomeAssistant, config_entry: ConfigEntry
) -> None:
    """A pushed post fires the entity with its distance and verification; the blueprint
    notifies for posts within the chosen cells only."""
    calls = async_mock_service(hass, "notify", "test_target")
    await _automation(
        hass,
        NOTIFY_BLUEPRINT,
        {"post_event": POST_ENTITY, "max_cells": 2, "notify_action": "notify.test_target"},
    )
    data = config_entry.runtime_data
    await _join(hass, data)
    data.async_handle_message({"type": "neighbor_post", "post": _post("$near", 1)})
    await hass.async_block_till_done()
    state = hass.states.get(POST_ENTITY)
    assert state is not None
    assert state.attributes["event_type"] == "neighbor_post"
    assert state.attributes["cells_from_home"] == 1
    assert state.attributes["verified"] is True
    # Links through Home Assistant, signed so a phone opens them from a notification.
    entry_id = config_entry.entry_id
    assert state.attributes["url"].startswith(
        f"/api/doorward/neighborhood/{entry_id}/$near/video?authSig="
    )
    assert state.attributes["thumbnail"].startswith(
        f"/api/doorward/neighborhood/{entry_id}/$near/thumbnail?authSig="
    )
    assert state.attributes["media_content_id"] == (
        f"media-source://doorward/{entry_id}/~neighborhood/$near"
    )
    assert [c.data["title"] for c in calls] == ["Neighbor post nearby"]
    assert calls[0].data["message"] == "Parcel gone · 1 cells away"
    link = state.attributes["url"]
    assert calls[0].data["data"] == {
        "tag": "doorward-post-$near",
        "url": link,
        "clickAction": link,
        "image": state.attributes["thumbnail"],
    }

    data.async_handle_message({"type": "neighbor_post", "post": _post("$far", 7)})
    text_post = _post("$text", None, kind="text", has_video=False, has_thumbnail=False)
    data.async_handle_message({"type": "neighbor_post", "post": text_post})
    await hass.async_block_till_done()
    assert len(calls) == 1
    text = hass.states.get(POST_ENTITY).attributes
    assert (text["url"], text["thumbnail"], text["media_content_id"]) == (None, None, None)
    data.async_handle_message(
        {"type": "neighbor_post", "post": _post("$bad", 0, verified=False, message="")}
    )
    await hass.async_block_till_done()
    assert calls[-1].data["title"] == "Neighbor post nearby (unverified)"
    assert calls[-1].data["message"] == "A neighbor shared a clip. · 0 cells away"

    # A malformed post is skipped, not fired.
    data.async_handle_message({"type": "neighbor_post", "post": {"event_id": 3}})
    await hass.async_block_till_done()
    assert hass.states.get(POST_ENTITY).attributes["event_id"] == "$bad"


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


@pytest.mark.parametrize("answer", ["share", "keep", None])
async def test_only_the_share_tap_shares(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    answer: str | None,
) -> None:
    """A clip asks the phone; Share shares that clip; Don't share or no answer shares nothing."""
    phone_entry = MockConfigEntry(domain="mobile_app", title="Pixel 9")
    phone_entry.add_to_hass(hass)
    phone = dr.async_get(hass).async_get_or_create(
        config_entry_id=phone_entry.entry_id, identifiers={("mobile_app", "pixel")}, name="Pixel 9"
    )
    questions = async_mock_service(hass, "notify", "mobile_app_pixel_9")
    shares = async_mock_service(hass, DOMAIN, "share_clip")
    await _automation(
        hass,
        SHARE_BLUEPRINT,
        {
            "clip_event": CLIP_EVENT,
            "notify_device": phone.id,
            "triggers_wanted": ["press"],
            "message": "Seen at our door",
            "answer_within": {"seconds": 2},
        },
    )
    await wait_buffering(hub)
    await doorbell.press()
    await wait_for(lambda: questions, timeout=30)
    question = questions[0].data
    assert question["title"] == "Share with the neighbors?"
    share_action, keep_action = (a["action"] for a in question["data"]["actions"])
    assert share_action.startswith("DOORWARD_SHARE_")
    if answer is not None:
        hass.bus.async_fire(
            "mobile_app_notification_action",
            {"action": share_action if answer == "share" else keep_action},
        )
    await asyncio.sleep(2.5)
    await hass.async_block_till_done()
    clip_id = hass.states.get(CLIP_EVENT).attributes["clip_id"]
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, FRONT)), config_entry.entry_id
    )
    assert device is not None
    expected = [{"device_id": device.id, "clip_id": clip_id, "message": "Seen at our door"}]
    assert [dict(call.data) for call in shares] == (expected if answer == "share" else [])


async def test_group_device_follows_the_hubs_status(
    hass: HomeAssistant, config_entry: ConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """The group's device appears behind the hub when the hub reports a group, follows its
    name, member count and an admin's removal, and goes with its entities when the hub
    leaves; a later group gets them again."""
    data = config_entry.runtime_data
    devices = dr.async_get(hass)
    identifier = (DOMAIN, group_identifier(data.hub_id))
    assert devices.async_get_device_by_identifier(identifier, config_entry.entry_id) is None
    assert hass.states.get(POST_ENTITY) is None

    await _join(hass, data)
    device = devices.async_get_device_by_identifier(identifier, config_entry.entry_id)
    assert device is not None
    assert (device.name, device.via_device_id) == ("Elm Street", data.hub_device_id)
    assert hass.states.get(MEMBERS).state == "4"
    assert hass.states.get(MEMBERS).attributes["state_class"] == "measurement"
    assert hass.states.get(REMOVED).state == "off"

    await _join(hass, data, member_count=5, group_name="Elm & Oak Street")
    assert hass.states.get(MEMBERS).state == "5"
    renamed = devices.async_get_device_by_identifier(identifier, config_entry.entry_id)
    assert renamed is not None
    assert renamed.name == "Elm & Oak Street"

    removal = {"by": "@admin:street.test", "reason": "moved away"}
    await _join(hass, data, joined=False, removed=removal, member_count=None)
    removed = hass.states.get(REMOVED)
    assert removed.state == "on"
    assert removed.attributes["removed_by"] == "@admin:street.test"
    assert removed.attributes["reason"] == "moved away"
    assert hass.states.get(MEMBERS).state == "unknown"

    # A reload asks the hub, which (for real) is in no group: the stale group device goes.
    await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert devices.async_get_device_by_identifier(identifier, config_entry.entry_id) is None

    data = config_entry.runtime_data
    await _join(hass, data)
    assert hass.states.get(POSTS_TODAY).state == "0"
    await _join(hass, data, joined=False, group_name=None, user_id=None, member_count=None)
    assert devices.async_get_device_by_identifier(identifier, config_entry.entry_id) is None
    assert hass.states.get(POSTS_TODAY) is None
    assert entity_registry.async_get(POSTS_TODAY) is None
    # A malformed status is skipped.
    data.async_handle_message({"type": "neighborhood", "status": {"group_name": "x"}})
    await hass.async_block_till_done()
    assert hass.states.get(POSTS_TODAY) is None


async def test_posts_today_counts_neighbors_and_starts_again_at_midnight(
    hass: HomeAssistant, config_entry: ConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Neighbors' posts sent since local midnight, each once; the hub's own and yesterday's
    do not count; at midnight the count is 0 again and `last_reset` says when it began."""
    data = config_entry.runtime_data
    # The posts come in as pushed messages; the hub's own connection (whose heartbeat would
    # time out when the clock jumps) is not needed here.
    await data.async_stop()
    freezer.move_to(dt_util.start_of_local_day() + timedelta(hours=23, minutes=58))
    await _join(hass, data)
    assert hass.states.get(POSTS_TODAY).state == "0"
    yesterday = int((dt_util.start_of_local_day() - timedelta(hours=1)).timestamp() * 1000)
    for post in (
        _post("$one", 1),
        _post("$two", 2),
        _post("$one", 1),  # delivered again: counted once
        _post("$own", 0, sender=OWN_ID),
        _post("$old", 3, sent_ms=yesterday),
    ):
        data.async_handle_message({"type": "neighbor_post", "post": post})
    await hass.async_block_till_done()
    state = hass.states.get(POSTS_TODAY)
    assert state.state == "2"
    assert state.attributes["state_class"] == "total"
    assert state.attributes["last_reset"] == dt_util.start_of_local_day().isoformat()

    freezer.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    state = hass.states.get(POSTS_TODAY)
    assert state.state == "0"
    assert state.attributes["last_reset"] == dt_util.start_of_local_day().isoformat()
    data.async_handle_message({"type": "neighbor_post", "post": _post("$three", 1)})
    await hass.async_block_till_done()
    assert hass.states.get(POSTS_TODAY).state == "1"
