"""Switches: the privacy mode of each doorbell."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell, DoorwardClient
from .data import DoorwardConfigEntry
from .entity import (
    DoorbellEntities,
    DoorwardDoorbellEntity,
    DoorwardEntityDescription,
    async_setup_doorbell_entities,
)

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DoorwardSwitchEntityDescription(DoorwardEntityDescription, SwitchEntityDescription):
    """A setting of a doorbell: how to read it, how to change it at the hub.

    `set_fn` answers with the updated doorbell; `failure_key` translates the hub's refusal.
    """

    value_fn: Callable[[Doorbell], bool]
    set_fn: Callable[[DoorwardClient, str, bool], Awaitable[Doorbell]]
    failure_key: str


SWITCHES: tuple[DoorwardSwitchEntityDescription, ...] = (
    DoorwardSwitchEntityDescription(
        # The hub takes no snapshots and serves no picture or video of the doorbell.
        key="privacy_mode",
        translation_key="privacy_mode",
        entity_category=EntityCategory.CONFIG,
        value_fn=lambda doorbell: doorbell.privacy_mode,
        set_fn=lambda client, doorbell_id, on: client.set_privacy_mode(doorbell_id, on),
        failure_key="privacy_mode_failed",
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the switches of every doorbell."""
    async_setup_doorbell_entities(
        entry, async_add_entities, DoorbellEntities(DoorwardSwitch, SWITCHES)
    )


class DoorwardSwitch(DoorwardDoorbellEntity, SwitchEntity):
    """A setting of a doorbell, changed at the hub."""

    entity_description: DoorwardSwitchEntityDescription
    _state_attrs = ("_attr_available", "_attr_is_on")

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        self._attr_is_on = self.entity_description.value_fn(self.doorbell)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn the setting on."""
        await self._async_set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn the setting off."""
        await self._async_set(False)

    async def _async_set(self, on: bool) -> None:
        description = self.entity_description
        doorbell = await self._async_hub_request(
            description.set_fn(self.data.client, self.doorbell_id, on), description.failure_key
        )
        self.data.async_update_doorbell(doorbell)
