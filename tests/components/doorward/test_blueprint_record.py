"""The record-on-trigger blueprint: a chosen trigger records clips at chosen doorbells."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.data import doorbell_identifier
from doorward_simulator import SimulatedDoorbell

from ..conftest import BACK, FRONT, HubRunner, wait_for
from .blueprints import async_setup_blueprint_automation, install_blueprint
from .recording import PRE_ROLL, recording_hub, track_clips, wait_buffering

BLUEPRINT = "doorward/record_on_trigger.yaml"
ALARM = "alarm_control_panel.house"
BACK_CLIP_EVENT = "event.back_door_clip"
FRONT_PRIVACY = "switch.front_door_privacy_mode"


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config folder holding the repository's blueprint, as a user would install it."""
    return install_blueprint(hass_tmp_config_dir, BLUEPRINT)


@pytest.fixture
async def back_door(
    hub: HubRunner, doorbell_factory: Callable[..., Awaitable[SimulatedDoorbell]]
) -> SimulatedDoorbell:
    """A second doorbell, paired before Home Assistant adds the hub."""
    back = await doorbell_factory(BACK, "Back door")
    await hub.wait_online(BACK)
    return back


def device_of(hass: HomeAssistant, hub: HubRunner, doorbell_id: str) -> str:
    """The Home Assistant device id of a doorbell."""
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, doorbell_id)), entry.entry_id
    )
    assert device is not None
    return device.id


async def async_setup_automation(hass: HomeAssistant, inputs: dict[str, object]) -> None:
    """An automation made from the blueprint."""
    await async_setup_blueprint_automation(hass, BLUEPRINT, "Record on alarm", inputs)


async def test_blueprint_is_valid(hass: HomeAssistant) -> None:
    """Home Assistant loads and validates the blueprint; any trigger, Doorward doorbells."""
    blueprint = await async_get_blueprints(hass).async_get_blueprint(BLUEPRINT)
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {"record_triggers", "doorbells", "duration"}
    assert "trigger" in blueprint.inputs["record_triggers"]["selector"]
    device = blueprint.inputs["doorbells"]["selector"]["device"]
    assert device["multiple"] is True
    assert device["filter"] == [{"integration": "doorward"}]
    assert blueprint.inputs["duration"]["default"] == 30


async def test_trigger_records_every_chosen_doorbell(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    back_door: SimulatedDoorbell,
    config_entry: ConfigEntry,
) -> None:
    """The alarm going off records a clip of the chosen length at each chosen doorbell.

    A doorbell in privacy mode records nothing, and does not keep the others from recording.
    """
    front_clips = track_clips(hass)
    back_clips = track_clips(hass, BACK_CLIP_EVENT)
    hass.states.async_set(ALARM, "armed_away")
    await async_setup_automation(
        hass,
        {
            "record_triggers": [{"trigger": "state", "entity_id": ALARM, "to": "triggered"}],
            "doorbells": [device_of(hass, hub, FRONT), device_of(hass, hub, BACK)],
            "duration": 2,
        },
    )
    await wait_buffering(hub, FRONT)
    await wait_buffering(hub, BACK)

    # Another change of the alarm is not the chosen trigger: nothing is recorded.
    hass.states.async_set(ALARM, "disarmed")
    await hass.async_block_till_done()

    hass.states.async_set(ALARM, "triggered")
    await wait_for(lambda: front_clips and back_clips, timeout=30)
    for clips in (front_clips, back_clips):
        assert len(clips) == 1
        assert clips[0]["trigger"] == "manual"
        # Pre-roll plus the chosen 2 s (video clips end on whole frames).
        assert clips[0]["duration"] >= 2 + PRE_ROLL - 0.5
    assert {c["clip_id"] for c in front_clips}.isdisjoint(c["clip_id"] for c in back_clips)

    # Privacy mode at the front door: only the back door records the next alarm.
    await hass.services.async_call("switch", "turn_on", {"entity_id": FRONT_PRIVACY}, blocking=True)
    hass.states.async_set(ALARM, "disarmed")
    hass.states.async_set(ALARM, "triggered")
    await wait_for(lambda: len(back_clips) == 2, timeout=30)
    await hass.async_block_till_done()
    assert len(front_clips) == 1
