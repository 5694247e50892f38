"""Base entities of the Doorward integration."""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell, DoorwardError
from .const import DOMAIN, MANUFACTURER
from .data import DoorwardConfigEntry, DoorwardData, doorbell_identifier
from .errors import hub_error

# Who made a doorbell, by the hub driver that talks to it.
DRIVER_MANUFACTURERS = {"doorward": MANUFACTURER, "doorbird": "DoorBird"}


def _always(doorbell: Doorbell) -> bool:
    return True


@dataclass(frozen=True, kw_only=True)
class DoorwardEntityDescription(EntityDescription):
    """What every Doorward doorbell entity describes: which doorbells have it.

    `exists_fn` decides from the doorbell (its capabilities) whether it gets the entity; each
    platform's description adds the function that computes what the entity shows.
    """

    exists_fn: Callable[[Doorbell], bool] = _always


@dataclass(frozen=True, slots=True)
class DoorbellEntities[D: DoorwardEntityDescription]:
    """The entities of one class a platform gives a doorbell: one per description it has."""

    entity_class: Callable[[DoorwardData, Doorbell, D], Entity]
    descriptions: tuple[D, ...]

    def for_doorbell(self, data: DoorwardData, doorbell: Doorbell) -> list[Entity]:
        """The entities of `doorbell`, skipping descriptions it does not have."""
        return [
            self.entity_class(data, doorbell, description)
            for description in self.descriptions
            if description.exists_fn(doorbell)
        ]


@callback
def async_setup_doorbell_entities(
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    *kinds: DoorbellEntities[Any],
) -> None:
    """Add the entities of every doorbell now, and of each doorbell the hub reports later."""
    data = entry.runtime_data

    @callback
    def add(doorbells: Iterable[Doorbell]) -> None:
        async_add_entities(
            entity
            for doorbell in doorbells
            for kind in kinds
            for entity in kind.for_doorbell(data, doorbell)
        )

    add(list(data.doorbells.values()))
    entry.async_on_unload(data.async_add_new_doorbell_listener(lambda doorbell: add([doorbell])))


class DoorwardEntity(Entity):
    """An entity fed by a hub's push connection.

    It writes its state only when something it shows changed: `_async_update_attrs` refreshes
    the `_attr_`s from the data, and the ones named in `_state_attrs` are compared before and
    after (a doorbell message that changes only, say, its `last_seen` writes nothing).
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _state_attrs: tuple[str, ...] = ("_attr_available",)

    def __init__(self, data: DoorwardData, description: EntityDescription) -> None:
        """Bind to the hub's data."""
        self.data = data
        self.entity_description = description

    @callback
    def _async_update_attrs(self) -> None:
        """Refresh the `_attr_`s from the data; extended by each entity."""
        self._attr_available = self.data.available

    @callback
    def _async_shown(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._state_attrs)

    @callback
    def _async_handle_update(self) -> None:
        shown = self._async_shown()
        self._async_update_attrs()
        if self._async_shown() != shown:
            self.async_write_ha_state()


class DoorwardHubEntity(DoorwardEntity):
    """An entity of the hub device."""

    def __init__(self, data: DoorwardData, description: EntityDescription) -> None:
        """Attach to the hub device."""
        super().__init__(data, description)
        self._attr_unique_id = f"{data.hub_id}_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, data.hub_id)})
        self._async_update_attrs()

    async def async_added_to_hass(self) -> None:
        """Follow the hub's state."""
        await super().async_added_to_hass()
        self.async_on_remove(self.data.async_add_listener(None, self._async_handle_update))


@callback
def async_setup_group_entities(
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entities: Callable[[DoorwardData], Iterable[Entity]],
) -> None:
    """Add the group's entities now if the hub is in a group, and each time it joins one."""
    data = entry.runtime_data

    @callback
    def add() -> None:
        async_add_entities(entities(data))

    if data.neighborhood.status.in_group:
        add()
    entry.async_on_unload(data.neighborhood.async_add_group_listener(add))


class DoorwardGroupEntity(DoorwardEntity):
    """An entity of the hub's neighborhood group device (a service behind the hub)."""

    def __init__(self, data: DoorwardData, description: EntityDescription) -> None:
        """Attach to the group's device, created behind the hub and named after the group."""
        super().__init__(data, description)
        self.neighborhood = data.neighborhood
        self._attr_unique_id = f"{data.hub_id}_neighborhood_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={self.neighborhood.identifier},
            name=self.neighborhood.status.group_name,
            manufacturer=MANUFACTURER,
            model="Neighborhood group",
            entry_type=DeviceEntryType.SERVICE,
            via_device_id=data.hub_device_id,
        )
        self._async_update_attrs()

    @callback
    def _async_update_attrs(self) -> None:
        """Available while the hub is reachable and in the group (joined or removed)."""
        self._attr_available = self.data.available and self.neighborhood.status.in_group

    async def async_added_to_hass(self) -> None:
        """Follow the group's status and the hub's availability."""
        await super().async_added_to_hass()
        self.async_on_remove(self.data.async_add_listener(None, self._async_handle_update))
        self.async_on_remove(self.neighborhood.async_add_listener(self._async_handle_update))


class DoorwardDoorbellEntity(DoorwardEntity):
    """An entity of a doorbell device."""

    entity_description: DoorwardEntityDescription

    def __init__(
        self, data: DoorwardData, doorbell: Doorbell, description: DoorwardEntityDescription
    ) -> None:
        """Attach to the doorbell's device, created behind the hub."""
        super().__init__(data, description)
        self.doorbell_id = doorbell.id
        self._doorbell = doorbell
        self._attr_unique_id = f"{data.hub_id}_{doorbell.id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, doorbell_identifier(data.hub_id, doorbell.id))},
            name=doorbell.name,
            manufacturer=DRIVER_MANUFACTURERS.get(doorbell.driver, doorbell.driver or None),
            model=doorbell.model or None,
            sw_version=doorbell.firmware,
            via_device_id=data.hub_device_id,
        )
        self._async_update_attrs()

    @property
    def doorbell(self) -> Doorbell:
        """The doorbell's latest known state."""
        if (doorbell := self.data.doorbells.get(self.doorbell_id)) is not None:
            self._doorbell = doorbell
        return self._doorbell

    @callback
    def _async_update_attrs(self) -> None:
        """Available while the hub is reachable and still has the doorbell."""
        self._attr_available = self.data.available and self.doorbell_id in self.data.doorbells

    async def _async_hub_request[T](self, request: Awaitable[T], failure_key: str) -> T:
        """Await a request to the hub; a failure becomes a translated error (`errors.py`).

        `failure_key` translates a request the hub refused (placeholders: the doorbell's name
        and the hub's reason).
        """
        try:
            return await request
        except DoorwardError as err:
            raise hub_error(
                self.data.entry, err, failure_key, {"name": self.doorbell.name}
            ) from err

    async def async_added_to_hass(self) -> None:
        """Follow the doorbell's state and the hub's availability."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.data.async_add_listener(self.doorbell_id, self._async_handle_update)
        )
