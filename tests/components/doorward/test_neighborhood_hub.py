"""Neighborhood groups from Home Assistant against a real hub and a real Synapse: the options
flow joins and leaves, `doorward.share_clip` shares one clip, and refusals are translated."""

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_socket
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.data import doorbell_identifier
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.neighborhood.group_host import GroupHost

from ...homeserver import serve, synapse
from ..conftest import FRONT, HubRunner, wait_for
from .recording import recording_hub, track_clips, wait_buffering


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's Synapse; sockets are allowed while it starts (Home Assistant's test plugin
    blocks them outside each test's own loopback allowance)."""
    pytest_socket.enable_socket()
    yield from serve(tmp_path_factory)


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


@pytest.fixture
async def group_host(homeserver: Any, tmp_path: Path) -> AsyncIterator[GroupHost]:
    """A group on the session's Synapse."""
    name, password = f"host-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    synapse.register(homeserver, name, password, admin=True)
    host = await GroupHost.sign_in(tmp_path / "host", homeserver.url, name, password)
    await host.create("Elm Street", GroupPolicy())
    yield host
    await host.close()


async def _options(hass: HomeAssistant, entry: ConfigEntry, answer: dict[str, Any]) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    return result, await hass.config_entries.options.async_configure(result["flow_id"], answer)


async def test_join_share_leave(
    hass: HomeAssistant, hub: HubRunner, doorbell: Any, config_entry: ConfigEntry,
    group_host: GroupHost,
) -> None:  # fmt: skip
    """Join with an invite (errors first), share a clip with the action, leave."""
    hass.config.latitude, hass.config.longitude = 52.370216, 4.895168
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, FRONT)), config_entry.entry_id
    )
    assert device is not None
    with pytest.raises(ServiceValidationError) as not_joined:
        await hass.services.async_call(
            DOMAIN, "share_clip", {"device_id": device.id, "clip_id": 1}, blocking=True
        )
    assert not_joined.value.translation_key == "share_not_in_group"

    form, result = await _options(hass, config_entry, {"invite": "hello"})
    assert form["step_id"] == "join"
    assert result["errors"] == {"base": "invalid_invite"}
    used = await group_host.invite()
    await group_host.remove(f"@{used.username}:{group_host.server_name}", "withdrawn")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"invite": used.encode()}
    )
    assert result["errors"] == {"base": "invite_rejected"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"invite": (await group_host.invite()).encode()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    status = await config_entry.runtime_data.client.neighborhood()
    assert (status.joined, status.group_name) == (True, "Elm Street")
    assert status.home_cell is not None

    clips = track_clips(hass)
    await wait_buffering(hub)
    await doorbell.press()
    await wait_for(lambda: clips, timeout=30)
    await hass.services.async_call(
        DOMAIN,
        "share_clip",
        {"device_id": device.id, "clip_id": clips[0]["clip_id"], "message": "Parcel gone"},
        blocking=True,
    )

    async def shared() -> bool:
        posts = await config_entry.runtime_data.client.neighbor_posts()
        return any(p.message == "Parcel gone" and p.verified for p in posts)

    await wait_for(shared, timeout=30)
    with pytest.raises(HomeAssistantError) as missing:
        await hass.services.async_call(
            DOMAIN, "share_clip", {"device_id": device.id, "clip_id": 999_999}, blocking=True
        )
    assert missing.value.translation_key == "share_failed"

    form, result = await _options(hass, config_entry, {"leave": False})
    assert form["step_id"] == "leave"
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "still_in_group")
    _, result = await _options(hass, config_entry, {"leave": True})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert not (await config_entry.runtime_data.client.neighborhood()).joined

    await hub.stop()
    with pytest.raises(HomeAssistantError) as down:
        await hass.services.async_call(
            DOMAIN, "share_clip", {"device_id": device.id, "clip_id": 1}, blocking=True
        )
    assert down.value.translation_key == "hub_unreachable"
