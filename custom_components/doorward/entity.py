"""Base entities of the Doorward integration."""

from collections.abc import Awaitable, Callable, Iterable

from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell, DoorwardAuthenticationError, DoorwardError
from .const import DOMAIN, MANUFACTURER
from .data import DoorwardConfigEntry, DoorwardData, doorbell_identifier

# Who made a doorbell, by the hub driver that talks to it.
DRIVER_MANUFACTURERS = {"doorward": MANUFACTURER, "doorbird": "DoorBird"}


@callback
def async_setup_doorbell_entities(
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entities_for: Callable[[DoorwardData, Doorbell], Iterable[Entity]],
) -> None:
    """Add the entities of every doorbell now, and of each doorbell the hub reports later."""
    data = entry.runtime_data

    @callback
    def add(doorbells: Iterable[Doorbell]) -> None:
        async_add_entities(
            entity for doorbell in doorbells for entity in entities_for(data, doorbell)
        )

    add(list(data.doorbells.values()))
    entry.async_on_unload(data.async_add_new_doorbell_listener(lambda doorbell: add([doorbell])))


class DoorwardEntity(Entity):
    """An entity fed by a hub's push connection."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, data: DoorwardData, description: EntityDescription) -> None:
        """Bind to the hub's data."""
        self.data = data
        self.entity_description = description

    @callback
    def _async_update_attrs(self) -> None:
        """Refresh the `_attr_`s from the data; called before every state write."""

    @callback
    def _async_handle_update(self) -> None:
        self._async_update_attrs()
        self.async_write_ha_state()


class DoorwardHubEntity(DoorwardEntity):
    """An entity of the hub device."""

    def __init__(self, data: DoorwardData, description: EntityDescription) -> None:
        """Attach to the hub device."""
        super().__init__(data, description)
        self._attr_unique_id = f"{data.hub_id}_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, data.hub_id)})
        self._async_update_attrs()

    @property
    def available(self) -> bool:
        """Available while the hub is reachable."""
        return super().available and self.data.available

    async def async_added_to_hass(self) -> None:
        """Follow the hub's state."""
        await super().async_added_to_hass()
        self.async_on_remove(self.data.async_add_listener(None, self._async_handle_update))


class DoorwardDoorbellEntity(DoorwardEntity):
    """An entity of a doorbell device."""

    def __init__(
        self, data: DoorwardData, doorbell: Doorbell, description: EntityDescription
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

    async def _async_hub_request[T](self, request: Awaitable[T], failure_key: str) -> T:
        """Await a request to the hub; a failure becomes a translated error.

        A rejected token also starts reauthentication; any other failure is reported with the
        exception translation `failure_key` (placeholders: the doorbell's name and the error).
        """
        try:
            return await request
        except DoorwardAuthenticationError as err:
            self.data.entry.async_start_reauth(self.hass)
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except DoorwardError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=failure_key,
                translation_placeholders={"name": self.doorbell.name, "error": str(err)},
            ) from err

    @property
    def available(self) -> bool:
        """Available while the hub is reachable and still has the doorbell."""
        return super().available and self.data.available and self.doorbell_id in self.data.doorbells

    async def async_added_to_hass(self) -> None:
        """Follow the doorbell's state and the hub's availability."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.data.async_add_listener(self.doorbell_id, self._async_handle_update)
        )
