"""Each platform on its own, as a snapshot: the entities a real doorbell gets and their states,
and those of the hub's neighborhood group.

One platform is loaded at a time (as Home Assistant core's `snapshot_platform` asks), against
a real hub and the simulated front door. The hub's id and the doorbell's per-run id are
replaced by placeholders, and short-lived access tokens by `TOKEN`, so the snapshots hold
only what the integration decides. `pytest --snapshot-update` rewrites them after a change.
"""

import re
from typing import Any
from unittest.mock import patch

import attrs
import pytest
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.doorward.const import DOMAIN, PLATFORMS
from custom_components.doorward.neighborhood import group_identifier
from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, HubRunner, async_add_hub

TOKEN = re.compile(r"token=[^&]+")
GROUP_PLATFORMS = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR]


def _ids(text: str, hub: HubRunner) -> str:
    return text.replace(hub.hub_id, "HUB_ID").replace(FRONT, "FRONT_DOOR")


def _state(state: State, hub: HubRunner) -> State:
    attributes: dict[str, Any] = dict(state.attributes)
    if "access_token" in attributes:
        attributes["access_token"] = "TOKEN"
    if isinstance(picture := attributes.get("entity_picture"), str):
        attributes["entity_picture"] = TOKEN.sub("token=TOKEN", picture)
    if attributes.get("last_reset") == dt_util.start_of_local_day().isoformat():
        attributes["last_reset"] = "LOCAL_MIDNIGHT"
    return State(state.entity_id, _ids(state.state, hub), attributes)


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_platform(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    entity_registry: er.EntityRegistry,
    *,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """The platform's registry entries and states for a hub with one online doorbell."""
    snapshot = snapshot.use_extension(HomeAssistantSnapshotExtension)
    with patch("custom_components.doorward.PLATFORMS", [platform]):
        entry = await async_add_hub(hass, hub)
        entries = sorted(
            er.async_entries_for_config_entry(entity_registry, entry.entry_id),
            key=lambda entity: entity.entity_id,
        )
        _assert_snapshots(hass, hub, entries, platform, snapshot)
        await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("platform", GROUP_PLATFORMS)
async def test_group_platform(
    hass: HomeAssistant,
    hub: HubRunner,
    entity_registry: er.EntityRegistry,
    *,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """The platform's entities of the group's device, once the hub pushes that it is in one."""
    snapshot = snapshot.use_extension(HomeAssistantSnapshotExtension)
    with patch("custom_components.doorward.PLATFORMS", [platform]):
        entry = await async_add_hub(hass, hub)
        status = {
            "joined": True, "group_name": "Elm Street", "user_id": "@hub-0a1b2c3d4e:street.test",
            "home_cell": "881f1d4813fffff", "removed": None, "sync_error": None, "member_count": 3,
        }  # fmt: skip
        entry.runtime_data.async_handle_message({"type": "neighborhood", "status": status})
        await hass.async_block_till_done()
        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, group_identifier(hub.hub_id)), entry.entry_id
        )
        assert device is not None
        entries = sorted(
            er.async_entries_for_device(entity_registry, device.id),
            key=lambda entity: entity.entity_id,
        )
        _assert_snapshots(hass, hub, entries, platform, snapshot)
        await hass.config_entries.async_unload(entry.entry_id)


def _assert_snapshots(
    hass: HomeAssistant,
    hub: HubRunner,
    entries: list[er.RegistryEntry],
    platform: Platform,
    snapshot: SnapshotAssertion,
) -> None:
    assert entries
    assert {entity.domain for entity in entries} == {platform}
    for entity in entries:
        normalized = attrs.evolve(entity, unique_id=_ids(entity.unique_id, hub))
        assert normalized == snapshot(name=f"{entity.entity_id}-entry")
        state = hass.states.get(entity.entity_id)
        if entity.disabled_by is None:
            assert state is not None, entity.entity_id
            assert _state(state, hub) == snapshot(name=f"{entity.entity_id}-state")
        else:
            assert state is None
