"""Sensors: the hub's figures, each doorbell's status, and the neighborhood group's figures."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell
from .const import DOORBELL_STATUSES
from .data import DoorwardConfigEntry, DoorwardData
from .entity import (
    DoorbellEntities,
    DoorwardDoorbellEntity,
    DoorwardEntityDescription,
    DoorwardGroupEntity,
    DoorwardHubEntity,
    async_setup_doorbell_entities,
    async_setup_group_entities,
)
from .neighborhood import Neighborhood

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


@dataclass(frozen=True, kw_only=True)
class DoorwardSensorEntityDescription(DoorwardEntityDescription, SensorEntityDescription):
    """A sensor of a doorbell."""

    value_fn: Callable[[Doorbell], str | None]


DOORBELL_SENSORS: tuple[DoorwardSensorEntityDescription, ...] = (
    DoorwardSensorEntityDescription(
        # Where the hub stands with the doorbell: pairing, online, offline, error, ...
        key="status",
        translation_key="status",
        device_class=SensorDeviceClass.ENUM,
        options=DOORBELL_STATUSES,
        entity_category=EntityCategory.DIAGNOSTIC,
        # A status a newer hub added is unknown here, not an invalid enum state.
        value_fn=lambda doorbell: doorbell.status if doorbell.status in DOORBELL_STATUSES else None,
    ),
)


@dataclass(frozen=True, kw_only=True)
class DoorwardGroupSensorEntityDescription(SensorEntityDescription):
    """A figure of the neighborhood group; `last_reset_fn` for counts that start again."""

    value_fn: Callable[[Neighborhood], int | None]
    last_reset_fn: Callable[[Neighborhood], datetime] | None = None


GROUP_SENSORS: tuple[DoorwardGroupSensorEntityDescription, ...] = (
    DoorwardGroupSensorEntityDescription(
        # A count accumulated over a cycle that starts again at local midnight: `total` with
        # `last_reset`, which Home Assistant's sensor docs give for "manual control of meter
        # cycles", so statistics sum the posts per period and know when each day began.
        # `measurement` is for a value in present time (it gets mean/min/max, and last_reset
        # is deprecated with it).
        key="posts_today",
        translation_key="posts_today",
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda neighborhood: neighborhood.posts_today,
        last_reset_fn=lambda neighborhood: neighborhood.day_start,
    ),
    DoorwardGroupSensorEntityDescription(
        # How many hubs and people are in the group now: a level that goes up and down.
        key="members",
        translation_key="members",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda neighborhood: neighborhood.status.member_count,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the hub's sensors and the sensors of every doorbell."""
    data = entry.runtime_data
    async_add_entities(DoorwardHubSensor(data, description) for description in HUB_SENSORS)
    async_setup_group_entities(
        entry,
        async_add_entities,
        lambda data: [DoorwardGroupSensor(data, description) for description in GROUP_SENSORS],
    )
    async_setup_doorbell_entities(
        entry, async_add_entities, DoorbellEntities(DoorwardDoorbellSensor, DOORBELL_SENSORS)
    )


class DoorwardHubSensor(DoorwardHubEntity, SensorEntity):
    """A figure of the hub."""

    entity_description: DoorwardHubSensorEntityDescription
    _state_attrs = ("_attr_available", "_attr_native_value")

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        self._attr_native_value = self.entity_description.value_fn(self.data)


class DoorwardDoorbellSensor(DoorwardDoorbellEntity, SensorEntity):
    """A sensor of a doorbell."""

    entity_description: DoorwardSensorEntityDescription
    _state_attrs = ("_attr_available", "_attr_native_value")

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        self._attr_native_value = self.entity_description.value_fn(self.doorbell)


class DoorwardGroupSensor(DoorwardGroupEntity, SensorEntity):
    """A figure of the neighborhood group."""

    entity_description: DoorwardGroupSensorEntityDescription
    _state_attrs = ("_attr_available", "_attr_native_value", "_attr_last_reset")

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        self._attr_native_value = self.entity_description.value_fn(self.neighborhood)
        last_reset = self.entity_description.last_reset_fn
        self._attr_last_reset = last_reset(self.neighborhood) if last_reset else None
