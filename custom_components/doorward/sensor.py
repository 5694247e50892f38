"""Sensors: the hub's figures and each doorbell's status."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell
from .const import DOORBELL_STATUSES
from .data import DoorwardConfigEntry, DoorwardData
from .entity import DoorwardDoorbellEntity, DoorwardHubEntity, async_setup_doorbell_entities

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DoorwardHubSensorEntityDescription(SensorEntityDescription):
    """A figure of the hub."""

    value_fn: Callable[[DoorwardData], int]


HUB_SENSORS: tuple[DoorwardHubSensorEntityDescription, ...] = (
    DoorwardHubSensorEntityDescription(
        key="doorbells_online",
        translation_key="doorbells_online",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: sum(1 for doorbell in data.doorbells.values() if doorbell.online),
    ),
    DoorwardHubSensorEntityDescription(
        key="last_event_seq",
        translation_key="last_event_seq",
        entity_category=EntityCategory.DIAGNOSTIC,
        # Changes with every event: off by default to keep the recorder quiet.
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.last_seq,
    ),
)

STATUS_DESCRIPTION = SensorEntityDescription(
    key="status",
    translation_key="status",
    device_class=SensorDeviceClass.ENUM,
    options=DOORBELL_STATUSES,
    entity_category=EntityCategory.DIAGNOSTIC,
)


def _doorbell_entities(data: DoorwardData, doorbell: Doorbell) -> Iterable[Entity]:
    return [DoorwardStatusSensor(data, doorbell, STATUS_DESCRIPTION)]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the hub sensors and the status sensor of every doorbell."""
    data = entry.runtime_data
    async_add_entities(DoorwardHubSensor(data, description) for description in HUB_SENSORS)
    async_setup_doorbell_entities(entry, async_add_entities, _doorbell_entities)


class DoorwardHubSensor(DoorwardHubEntity, SensorEntity):
    """A figure of the hub."""

    entity_description: DoorwardHubSensorEntityDescription

    @callback
    def _async_update_attrs(self) -> None:
        self._attr_native_value = self.entity_description.value_fn(self.data)


class DoorwardStatusSensor(DoorwardDoorbellEntity, SensorEntity):
    """Where the hub stands with the doorbell: pairing, online, offline, error, ..."""

    @callback
    def _async_update_attrs(self) -> None:
        status = self.doorbell.status
        self._attr_native_value = status if status in DOORBELL_STATUSES else None
