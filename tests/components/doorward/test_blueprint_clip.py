"""The notify-on-clip blueprint, loaded by Home Assistant's blueprint machinery."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.data import doorbell_identifier
from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, HubRunner, wait_for
from .blueprints import async_setup_blueprint_automation, install_blueprint
from .recording import CLIP_EVENT, recording_hub, track_clips, wait_buffering

BLUEPRINT = "doorward/notify_on_clip.yaml"


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config folder holding the repository's blueprint, as a user would install it."""
    return install_blueprint(hass_tmp_config_dir, BLUEPRINT)


async def async_setup_automation(hass: HomeAssistant, inputs: dict[str, object]) -> None:
    """An automation made from the blueprint."""
    await async_setup_blueprint_automation(hass, BLUEPRINT, "Clip notify", inputs)


async def test_blueprint_is_valid(hass: HomeAssistant) -> None:
    """Home Assistant loads and validates the blueprint and its inputs."""
    blueprint = await async_get_blueprints(hass).async_get_blueprint(BLUEPRINT)
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {
        "clip_event",
        "triggers_wanted",
        "notify_device",
        "notify_action",
        "title",
        "message",
    }
    selector = blueprint.inputs["clip_event"]["selector"]["entity"]["filter"][0]
    assert selector == {"integration": "doorward", "domain": ["event"]}


async def test_notifies_with_thumbnail_and_link(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """A press's clip notifies the chosen action with the clip's thumbnail and link."""
    calls = async_mock_service(hass, "notify", "test_target")
    await async_setup_automation(
        hass, {"clip_event": CLIP_EVENT, "notify_action": "notify.test_target"}
    )

    await wait_buffering(hub)
    await doorbell.press()
    await wait_for(lambda: calls, timeout=30)
    await hass.async_block_till_done()
    assert len(calls) == 1
    data = calls[0].data
    state = hass.states.get(CLIP_EVENT)
    assert state is not None
    clip_id = state.attributes["clip_id"]
    assert data["title"] == "Doorbell clip"
    assert (
        data["message"] == f"New clip of the Front door ({round(state.attributes['duration'])} s)."
    )
    base = f"/api/doorward/clips/{config_entry.entry_id}/{clip_id}"
    assert data["data"] == {
        "tag": f"doorward-clip-{clip_id}",
        "clip_id": clip_id,
        "image": f"{base}/thumbnail",
        "url": f"{base}/video",
        "clickAction": f"{base}/video",
    }

    # Both links serve the clip to a signed-in user.
    client = await hass_client()
    response = await client.get(data["data"]["url"])
    assert response.status == 200
    assert response.headers["Content-Type"] == "video/mp4"
    response = await client.get(data["data"]["image"])
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"


async def test_notifies_phone_only_for_chosen_triggers(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """The phone's notify action comes from its device; unwanted triggers are skipped."""
    phone_entry = MockConfigEntry(domain="mobile_app", title="Pixel 9")
    phone_entry.add_to_hass(hass)
    phone = dr.async_get(hass).async_get_or_create(
        config_entry_id=phone_entry.entry_id, identifiers={("mobile_app", "pixel")}, name="Pixel 9"
    )
    calls = async_mock_service(hass, "notify", "mobile_app_pixel_9")
    await async_setup_automation(
        hass,
        {
            "clip_event": CLIP_EVENT,
            "notify_device": phone.id,
            "triggers_wanted": ["manual"],
            "message": "{{ doorbell }} recorded",
        },
    )
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, FRONT)), config_entry.entry_id
    )
    assert device is not None
    clips = track_clips(hass)

    await wait_buffering(hub)
    await doorbell.press()
    await wait_for(lambda: clips, timeout=30)
    assert clips[0]["trigger"] == "press"
    await hass.async_block_till_done()
    assert calls == []

    await hass.services.async_call(
        DOMAIN, "record", {"device_id": device.id, "duration": 1}, blocking=True
    )
    await wait_for(lambda: calls, timeout=30)
    assert calls[0].data["message"] == "Front door recorded"
    assert calls[0].data["data"]["url"].endswith("/video")


async def test_a_clip_finished_while_disconnected_notifies_once(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """A clip stored (and one removed) while Home Assistant was away: on resume the hub replays
    both clip messages with the events; `clip_ready` fires for the new clip exactly once."""
    calls = async_mock_service(hass, "notify", "test_target")
    await async_setup_automation(
        hass, {"clip_event": CLIP_EVENT, "notify_action": "notify.test_target"}
    )
    await wait_buffering(hub)
    await doorbell.press()
    await wait_for(lambda: len(calls) == 1, timeout=30)
    first = calls[0].data["data"]["clip_id"]

    await hass.config_entries.async_unload(config_entry.entry_id)
    await doorbell.press()

    async def stored() -> list[dict[str, object]]:
        status, body = await hub.api("GET", "/clips")
        assert status == 200
        listed: list[dict[str, object]] = body["clips"]
        return listed if len(listed) == 2 else []

    missed = (await wait_for(stored, timeout=30))[0]
    status, _ = await hub.api("DELETE", f"/clips/{first}")
    assert status == 204

    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: len(calls) == 2, timeout=30)
    assert [c.data["data"]["clip_id"] for c in calls] == [first, missed["id"]]
    status, body = await hub.api("GET", "/events?limit=1")
    assert status == 200
    await wait_for(lambda: config_entry.runtime_data.last_seq == body["last_seq"])

    # Resuming again replays nothing more.
    await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: config_entry.runtime_data.connected)
    await asyncio.sleep(1)
    await hass.async_block_till_done()
    assert len(calls) == 2
