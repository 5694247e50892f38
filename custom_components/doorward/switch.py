"""Switches: the privacy mode of each doorbell."""

from collections.abc import Iterable
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell
from .data import DoorwardConfigEntry, DoorwardData
from .entity import DoorwardDoorbellEntity, async_setup_doorbell_entities

PARALLEL_UPDATES = 0

PRIVACY_MODE_DESCRIPTION = SwitchEntityDescription(
    key="privacy_mode",
    translation_key="privacy_mode",
    entity_category=EntityCategory.CONFIG,
)


def _entities(data: DoorwardData, doorbell: Doorbell) -> Iterable[Entity]:
    return [DoorwardPrivacySwitch(data, doorbell, PRIVACY_MODE_DESCRIPTION)]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the privacy mode switch of every doorbell."""
    async_setup_doorbell_entities(entry, async_add_entities, _entities)


class DoorwardPrivacySwitch(DoorwardDoorbellEntity, SwitchEntity):
    """Privacy mode: the hub takes no snapshots and serves no picture of the doorbell."""

    @callback
    def _async_update_attrs(self) -> None:
        self._attr_is_on = self.doorbell.privacy_mode

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn privacy mode on."""
        await self._async_set_privacy_mode(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn privacy mode off."""
        await self._async_set_privacy_mode(False)

    async def _async_set_privacy_mode(self, enabled: bool) -> None:
        doorbell = await self._async_hub_request(
            self.data.client.set_privacy_mode(self.doorbell_id, enabled), "privacy_mode_failed"
        )
        self.data.async_update_doorbell(doorbell)
