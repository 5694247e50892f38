"""The notify-on-ring blueprint, loaded by Home Assistant's blueprint machinery."""

import pytest
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from doorward_simulator import SimulatedDoorbell

from ..conftest import HubRunner, wait_for
from .blueprints import async_setup_blueprint_automation, install_blueprint

BLUEPRINT = "doorward/notify_on_ring.yaml"
RING = "event.front_door_doorbell"
LAST_PRESS = "image.front_door_last_press"
PRIVACY = "switch.front_door_privacy_mode"


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config folder holding the repository's blueprint, as a user would install it."""
    return install_blueprint(hass_tmp_config_dir, BLUEPRINT)


async def async_setup_automation(hass: HomeAssistant, inputs: dict[str, object]) -> None:
    """An automation made from the blueprint."""
    await async_setup_blueprint_automation(hass, BLUEPRINT, "Doorbell notify", inputs)


async def test_blueprint_is_valid(hass: HomeAssistant) -> None:
    """Home Assistant loads and validates the blueprint and its inputs."""
    blueprint = await async_get_blueprints(hass).async_get_blueprint(BLUEPRINT)
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {
        "ring_event",
        "notify_device",
        "notify_action",
        "title",
        "message",
        "picture_wait",
    }
    selector = blueprint.inputs["ring_event"]["selector"]["entity"]["filter"][0]
    assert selector == {
        "integration": "doorward",
        "domain": ["event"],
        "device_class": ["doorbell"],
    }


async def test_notifies_with_the_press_picture(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    hass_client,
) -> None:
    """A press notifies the chosen notify action with the press picture's URL."""
    calls = async_mock_service(hass, "notify", "test_target")
    await async_setup_automation(hass, {"ring_event": RING, "notify_action": "notify.test_target"})

    await doorbell.press()
    await wait_for(lambda: calls)
    await hass.async_block_till_done()
    assert len(calls) == 1
    data = calls[0].data
    assert data["title"] == "Doorbell"
    assert data["message"] == "Someone is at the Front door."
    assert data["data"]["image"] == f"/api/image_proxy/{LAST_PRESS}"
    assert data["data"]["seq"] == hass.states.get(RING).attributes["seq"]
    assert data["data"]["tag"] == f"doorward-{RING}"

    # The URL serves the picture the hub stored for this press.
    client = await hass_client()
    response = await client.get(data["data"]["image"])
    assert response.status == 200
    seq = data["data"]["seq"]
    assert await response.read() == (hub.config.data_dir / "snapshots" / f"{seq}.jpg").read_bytes()

    # Motion is not a ring.
    await doorbell.motion(True)
    await doorbell.press()
    await wait_for(lambda: len(calls) == 2)
    await hass.async_block_till_done()
    assert len(calls) == 2


async def test_notifies_phone_without_picture_in_privacy_mode(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """The phone's notify action is derived from the device; no picture in privacy mode."""
    phone_entry = MockConfigEntry(domain="mobile_app", title="Pixel 9")
    phone_entry.add_to_hass(hass)
    phone = dr.async_get(hass).async_get_or_create(
        config_entry_id=phone_entry.entry_id, identifiers={("mobile_app", "pixel")}, name="Pixel 9"
    )
    calls = async_mock_service(hass, "notify", "mobile_app_pixel_9")
    await async_setup_automation(
        hass,
        {
            "ring_event": RING,
            "notify_device": phone.id,
            "picture_wait": 1,
            "message": "{{ doorbell }} rang",
        },
    )
    await hass.services.async_call("switch", "turn_on", {"entity_id": PRIVACY}, blocking=True)

    await doorbell.press()
    await wait_for(lambda: calls)
    assert calls[0].data["message"] == "Front door rang"
    assert "image" not in calls[0].data["data"]
