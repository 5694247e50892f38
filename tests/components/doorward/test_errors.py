"""One mapping of hub errors (`errors.py`), seen from every caller that talks to the hub.

A real hub revokes Home Assistant's token. The push connection notices first and asks to pair
again; that flow is dismissed, and then each caller in turn (camera, switch, image, the
`record` action, the media source, the clip relay) must raise the same translated error and
start reauthentication by itself. A hub that is down is reported the same way by all of them.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from homeassistant.components import media_source
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.data import doorbell_identifier
from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, HubRunner, wait_for

CAMERA = "camera.front_door"
LAST_PRESS = "image.front_door_last_press"
PRIVACY = "switch.front_door_privacy_mode"

type Caller = Callable[[], Awaitable[Any]]


def reauth_flows(hass: HomeAssistant) -> list[str]:
    """The ids of the integration's reauthentication flows in progress."""
    return [
        flow["flow_id"]
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


def dismiss_reauth(hass: HomeAssistant) -> None:
    """Dismiss the reauthentication flows, as a user closing the dialog would."""
    for flow_id in reauth_flows(hass):
        hass.config_entries.flow.async_abort(flow_id)


@pytest.fixture
async def callers(
    hass: HomeAssistant,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    hass_client: ClientSessionGenerator,
) -> dict[str, Caller]:
    """Every path by which Home Assistant asks the hub something for a user.

    The front door was pressed once, so the "Last press" image has a picture to fetch.
    """
    entry = config_entry
    await doorbell.press()
    await wait_for(lambda: entry.runtime_data.press_snapshots)
    assert await async_setup_component(hass, "media_source", {})
    entities = hass.data["domain_entities"]
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(entry.unique_id or "", FRONT)), entry.entry_id
    )
    assert device is not None
    client = await hass_client()
    clip_url = f"/api/doorward/clips/{entry.entry_id}/1/video"

    async def relay() -> None:
        response = await client.get(clip_url)
        assert response.status == 502
        raise HomeAssistantError("relay answered 502")  # the view itself only logs

    return {
        "camera": entities["camera"][CAMERA].async_camera_image,
        "image": entities["image"][LAST_PRESS].async_image,
        # Called on the entity: Home Assistant skips unavailable entities in a service call.
        "switch": entities["switch"][PRIVACY].async_turn_on,
        "record": lambda: hass.services.async_call(
            DOMAIN, "record", {"device_id": device.id}, blocking=True
        ),
        "browse": lambda: media_source.async_browse_media(
            hass, f"media-source://{DOMAIN}/{entry.entry_id}/{FRONT}"
        ),
        "resolve": lambda: media_source.async_resolve_media(
            hass, f"media-source://{DOMAIN}/{entry.entry_id}/{FRONT}/2026-11-23/1", None
        ),
        "relay": relay,
    }


async def test_rejected_token_starts_reauth_from_every_caller(
    hass: HomeAssistant,
    hub: HubRunner,
    config_entry: ConfigEntry,
    callers: dict[str, Caller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each caller raises `invalid_auth` and asks to pair again, not only the push connection."""

    status, _ = await hub.api("DELETE", f"/tokens/{config_entry.data['token_id']}")
    assert status == 204
    await wait_for(lambda: reauth_flows(hass))  # the push connection's
    for name, call in callers.items():
        dismiss_reauth(hass)
        await hass.async_block_till_done()
        assert not reauth_flows(hass)
        with pytest.raises(HomeAssistantError) as err:
            await call()
        if name == "relay":
            assert "The Doorward hub no longer accepts Home Assistant's token" in caplog.text
        else:
            assert err.value.translation_domain == DOMAIN, name
            assert err.value.translation_key == "invalid_auth", name
            if name in ("browse", "resolve"):
                expected = BrowseError if name == "browse" else media_source.Unresolvable
                assert isinstance(err.value, expected), name
        await hass.async_block_till_done()
        assert reauth_flows(hass), f"{name} did not start reauthentication"


async def test_unreachable_hub_is_reported_alike_by_every_caller(
    hass: HomeAssistant,
    hub: HubRunner,
    config_entry: ConfigEntry,
    callers: dict[str, Caller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hub that is down: every caller says `hub_unreachable` with the hub's name and address."""
    await hub.stop()
    message = f"Cannot reach the Doorward hub Test hub at {hub.url}"
    for name, call in callers.items():
        with pytest.raises(HomeAssistantError) as err:
            await call()
        if name == "relay":
            assert message in caplog.text
            continue
        assert err.value.translation_key == "hub_unreachable", name
        assert str(err.value).startswith(message), name
    assert not reauth_flows(hass)
