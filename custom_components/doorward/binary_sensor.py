"""Binary sensors: whether each doorbell is connected to the hub, and whether a group admin
removed the hub from its neighborhood group."""

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell
from .data import DoorwardConfigEntry
from .entity import (
    DoorbellEntities,
    DoorwardDoorbellEntity,
    DoorwardEntityDescription,
    DoorwardGroupEntity,
    async_setup_doorbell_entities,
    async_setup_group_entities,
)

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DoorwardBinarySensorEntityDescription(
    DoorwardEntityDescription, BinarySensorEntityDescription
):
    """A binary sensor of a doorbell and what turns it on."""

    value_fn: Callable[[Doorbell], bool]


BINARY_SENSORS: tuple[DoorwardBinarySensorEntityDescription, ...] = (
    DoorwardBinarySensorEntityDescription(
        key="connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Online: paired and connected to the hub.
        value_fn=lambda doorbell: doorbell.online,
    ),
)


REMOVED_DESCRIPTION = BinarySensorEntityDescription(
    # On once a group admin removed the hub: it receives nothing more until it leaves and joins
    # again. Its attributes say who removed it and why.
    key="removed",
    translation_key="removed",
    device_class=BinarySensorDeviceClass.PROBLEM,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the binary sensors of every doorbell and the group's removal sensor."""
    async_setup_doorbell_entities(
        entry, async_add_entities, DoorbellEntities(DoorwardBinarySensor, BINARY_SENSORS)
    )
    async_setup_group_entities(
        entry, async_add_entities, lambda data: [DoorwardRemovedSensor(data, REMOVED_DESCRIPTION)]
    )


class DoorwardBinarySensor(DoorwardDoorbellEntity, BinarySensorEntity):
    """A binary sensor of a doorbell."""

    entity_description: DoorwardBinarySensorEntityDescription
    _state_attrs = ("_attr_available", "_attr_is_on")

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        self._attr_is_on = self.entity_description.value_fn(self.doorbell)


class DoorwardRemovedSensor(DoorwardGroupEntity, BinarySensorEntity):
    """On when a group admin removed the hub from the group; says who and why."""

    _state_attrs = ("_attr_available", "_attr_is_on", "_attr_extra_state_attributes")

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        removed = self.neighborhood.status.removed
        self._attr_is_on = removed is not None
        self._attr_extra_state_attributes = (
            {"removed_by": removed.by, "reason": removed.reason} if removed is not None else {}
        )
