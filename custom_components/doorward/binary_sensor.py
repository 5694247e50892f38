"""Binary sensors: whether each doorbell is connected to the hub."""

from collections.abc import Iterable

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell
from .data import DoorwardConfigEntry, DoorwardData
from .entity import DoorwardDoorbellEntity, async_setup_doorbell_entities

PARALLEL_UPDATES = 0

CONNECTIVITY_DESCRIPTION = BinarySensorEntityDescription(
    key="connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


def _entities(data: DoorwardData, doorbell: Doorbell) -> Iterable[Entity]:
    return [DoorwardConnectivitySensor(data, doorbell, CONNECTIVITY_DESCRIPTION)]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the connectivity sensor of every doorbell."""
    async_setup_doorbell_entities(entry, async_add_entities, _entities)


class DoorwardConnectivitySensor(DoorwardDoorbellEntity, BinarySensorEntity):
    """On while the doorbell is online (paired and connected to the hub)."""

    @callback
    def _async_update_attrs(self) -> None:
        self._attr_is_on = self.doorbell.online
