"""Each platform on its own, as a snapshot: the entities a real doorbell gets and their states.

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
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.doorward.const import PLATFORMS
from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, HubRunner, async_add_hub

TOKEN = re.compile(r"token=[^&]+")


def _ids(text: str, hub: HubRunner) -> str:
    return text.replace(hub.hub_id, "HUB_ID").replace(FRONT, "FRONT_DOOR")


def _state(state: State, hub: HubRunner) -> State:
    attributes: dict[str, Any] = dict(state.attributes)
    if "access_token" in attributes:
        attributes["access_token"] = "TOKEN"
    if isinstance(picture := attributes.get("entity_picture"), str):
        attributes["entity_picture"] = TOKEN.sub("token=TOKEN", picture)
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
        await hass.config_entries.async_unload(entry.entry_id)
