"""The privacy-when-home blueprint: privacy mode follows who is home (and a schedule)."""

import pytest
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant

from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, HubRunner, wait_for
from .blueprints import async_setup_blueprint_automation, install_blueprint

BLUEPRINT = "doorward/privacy_when_home.yaml"
PRIVACY = "switch.front_door_privacy_mode"
ALICE = "person.alice"
BOB = "person.bob"
DAYTIME = "schedule.daytime"


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config folder holding the repository's blueprint, as a user would install it."""
    return install_blueprint(hass_tmp_config_dir, BLUEPRINT)


async def async_setup_automation(hass: HomeAssistant, inputs: dict[str, object]) -> None:
    """An automation made from the blueprint."""
    await async_setup_blueprint_automation(hass, BLUEPRINT, "Privacy at home", inputs)


async def hub_privacy(hub: HubRunner) -> bool:
    """The doorbell's privacy mode as the hub has it (not just Home Assistant's switch)."""
    doorbell = await hub.doorbell(FRONT)
    assert doorbell is not None
    return bool(doorbell["privacy_mode"])


async def wait_privacy(hass: HomeAssistant, hub: HubRunner, on: bool) -> None:
    """Wait until the switch and the hub both show privacy mode `on`."""
    expected = STATE_ON if on else STATE_OFF

    async def settled() -> bool:
        await hass.async_block_till_done()
        state = hass.states.get(PRIVACY)
        return state is not None and state.state == expected and await hub_privacy(hub) is on

    await wait_for(settled)


async def set_privacy_by_hand(hass: HomeAssistant, hub: HubRunner) -> None:
    """Turn privacy mode on with the switch, so that the automation has to turn it off."""
    await hass.services.async_call("switch", "turn_on", {"entity_id": PRIVACY}, blocking=True)
    await wait_privacy(hass, hub, on=True)


async def test_blueprint_is_valid(hass: HomeAssistant) -> None:
    """Home Assistant loads and validates the blueprint and its inputs."""
    blueprint = await async_get_blueprints(hass).async_get_blueprint(BLUEPRINT)
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {"people", "privacy_switches", "schedule"}
    switches = blueprint.inputs["privacy_switches"]["selector"]["entity"]
    assert switches["filter"] == [{"integration": "doorward", "domain": ["switch"]}]
    assert blueprint.inputs["schedule"]["default"] == ""


async def test_privacy_mode_while_someone_is_home(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """On when the first person comes home, on while anyone is, off when the last one leaves."""
    hass.states.async_set(ALICE, "not_home")
    hass.states.async_set(BOB, "not_home")
    await async_setup_automation(hass, {"people": [ALICE, BOB], "privacy_switches": [PRIVACY]})
    assert await hub_privacy(hub) is False

    hass.states.async_set(ALICE, "home")
    await wait_privacy(hass, hub, on=True)
    hass.states.async_set(BOB, "home")
    hass.states.async_set(ALICE, "work")  # a zone that is not home: Bob still is
    await wait_privacy(hass, hub, on=True)
    hass.states.async_set(BOB, "not_home")
    await wait_privacy(hass, hub, on=False)
    # Turned on by hand while all are away: the next move of anyone brings it back in line.
    await set_privacy_by_hand(hass, hub)
    hass.states.async_set(ALICE, "not_home")
    await hass.async_block_till_done()
    await wait_privacy(hass, hub, on=False)


async def test_privacy_mode_only_within_the_schedule(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """With a schedule, privacy mode is on only while it is on and someone is home."""
    hass.states.async_set(ALICE, "home")
    hass.states.async_set(DAYTIME, STATE_OFF)
    await async_setup_automation(
        hass, {"people": ALICE, "privacy_switches": [PRIVACY], "schedule": DAYTIME}
    )
    # Someone home, but outside the schedule: Alice coming home turns privacy mode off (it was
    # turned on by hand).
    await set_privacy_by_hand(hass, hub)
    hass.states.async_set(ALICE, "not_home")
    hass.states.async_set(ALICE, "home")
    await wait_privacy(hass, hub, on=False)

    hass.states.async_set(DAYTIME, STATE_ON)
    await wait_privacy(hass, hub, on=True)
    hass.states.async_set(DAYTIME, STATE_OFF)
    await wait_privacy(hass, hub, on=False)

    # Within the schedule again, but nobody home: off.
    hass.states.async_set(ALICE, "not_home")
    await set_privacy_by_hand(hass, hub)
    hass.states.async_set(DAYTIME, STATE_ON)
    await wait_privacy(hass, hub, on=False)
    hass.states.async_set(ALICE, "home")
    await wait_privacy(hass, hub, on=True)
