"""The `doorward.record` action against a real hub: what it refuses, and how it says so."""

from collections.abc import AsyncIterator
from pathlib import Path

import probatio
import pytest
import yaml
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr

from custom_components.doorward.const import DEFAULT_RECORD_SECONDS, DOMAIN, MAX_RECORD_SECONDS
from custom_components.doorward.data import doorbell_identifier
from custom_components.doorward.services import RECORD_SCHEMA
from doorward_simulator import SimulatedDoorbell
from tests.hub.openapi_contract import generated

from ..conftest import FRONT, HubRunner, wait_for
from .recording import recording_hub

PRIVACY = "switch.front_door_privacy_mode"
REPO = Path(__file__).parents[3]


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


def doorbell_device(hass: HomeAssistant, hub: HubRunner) -> str:
    """The device id of the front door."""
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, FRONT)), entry.entry_id
    )
    assert device is not None
    return device.id


async def record(hass: HomeAssistant, device_id: str, **data: object) -> None:
    """Call `doorward.record`."""
    await hass.services.async_call(
        DOMAIN, "record", {"device_id": device_id, **data}, blocking=True
    )


async def test_record_is_registered_once_with_its_schema(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry
) -> None:
    """The action exists while a hub is set up; a duration outside 1..300 s is refused."""
    assert hass.services.has_service(DOMAIN, "record")
    device_id = doorbell_device(hass, hub)
    for duration in (0, 301, "long"):
        with pytest.raises(probatio.Invalid):
            await record(hass, device_id, duration=duration)


async def test_record_refuses_what_is_not_a_doorbell(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry
) -> None:
    """An unknown device, or the hub's own device, is a translated validation error."""
    hub_device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, hub.hub_id), config_entry.entry_id
    )
    assert hub_device is not None
    for device_id in ("no-such-device", hub_device.id):
        with pytest.raises(ServiceValidationError) as err:
            await record(hass, device_id)
        assert err.value.translation_key == "unknown_doorbell"
        assert err.value.translation_placeholders == {"device_id": device_id}
        assert device_id in str(err.value)


async def test_record_in_privacy_mode(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry
) -> None:
    """Privacy mode records nothing: the action says so and the hub is not asked."""
    await hass.services.async_call("switch", "turn_on", {"entity_id": PRIVACY}, blocking=True)
    with pytest.raises(ServiceValidationError) as err:
        await record(hass, doorbell_device(hass, hub))
    assert err.value.translation_key == "record_privacy_mode"
    assert str(err.value) == (
        "Front door is in privacy mode: it records nothing. Turn privacy mode off to record"
    )


async def test_record_offline_doorbell(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """A doorbell without live video: the hub's 409 becomes a translated error with its reason."""
    device_id = doorbell_device(hass, hub)
    await doorbell.stop()

    async def offline() -> bool:
        current = await hub.doorbell(FRONT)
        return current is not None and not current["online"]

    await wait_for(offline)
    with pytest.raises(HomeAssistantError) as err:
        await record(hass, device_id)
    assert err.value.translation_key == "record_failed"
    assert str(err.value).startswith("The hub cannot record Front door now: HTTP 409")


async def test_record_unreachable_hub_and_revoked_token(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry
) -> None:
    """A revoked token asks to pair again; a hub that is down is reported as unreachable."""
    device_id = doorbell_device(hass, hub)
    status, _ = await hub.api("DELETE", f"/tokens/{config_entry.data['token_id']}")
    assert status == 204
    with pytest.raises(HomeAssistantError) as err:
        await record(hass, device_id)
    assert err.value.translation_key == "invalid_auth"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert any(flow["context"]["source"] == SOURCE_REAUTH for flow in flows)

    await hub.stop()
    with pytest.raises(HomeAssistantError) as err:
        await record(hass, device_id)
    assert err.value.translation_key == "hub_unreachable"
    assert str(err.value).startswith(f"Cannot reach the Doorward hub Test hub at {hub.url}")


def test_record_duration_matches_the_hub_api() -> None:
    """The action's default and longest duration are the hub's (its generated OpenAPI
    document), in the schema and in the action's UI (services.yaml), so a plain call records
    what the hub would.
    """
    record = generated()["paths"]["/doorbells/{doorbell_id}/record"]["post"]
    duration = record["requestBody"]["content"]["application/json"]["schema"]["properties"]
    longest, default = int(duration["duration"]["maximum"]), int(duration["duration"]["default"])
    assert (default, longest) == (DEFAULT_RECORD_SECONDS, MAX_RECORD_SECONDS)
    assert RECORD_SCHEMA({"device_id": "d"})["duration"] == default
    services = yaml.safe_load((REPO / "custom_components/doorward/services.yaml").read_text())
    field = services["record"]["fields"]["duration"]
    assert field["default"] == default
    assert field["selector"]["number"]["max"] == longest
