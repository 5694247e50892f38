"""Image entities: the picture the hub took at each doorbell's latest press."""

from collections.abc import Iterable

from homeassistant.components.image import Image, ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell, DoorwardError, DoorwardNotFoundError
from .const import CAPABILITY_SNAPSHOT, DOMAIN
from .data import DoorwardConfigEntry, DoorwardData, PressSnapshot
from .entity import DoorwardDoorbellEntity, async_setup_doorbell_entities

PARALLEL_UPDATES = 0

LAST_PRESS_DESCRIPTION = ImageEntityDescription(key="last_press", translation_key="last_press")


def _entities(data: DoorwardData, doorbell: Doorbell) -> Iterable[Entity]:
    if CAPABILITY_SNAPSHOT not in doorbell.capabilities:
        return []
    return [DoorwardPressImage(data, doorbell)]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the press snapshot of every doorbell that takes pictures."""
    async_setup_doorbell_entities(entry, async_add_entities, _entities)


class DoorwardPressImage(DoorwardDoorbellEntity, ImageEntity):
    """The stored picture of the latest press (`/events/{seq}/snapshot`), never a live one.

    It changes when the hub announces (WebSocket `snapshot`) that it stored the picture.
    """

    _attr_content_type = "image/jpeg"

    def __init__(self, data: DoorwardData, doorbell: Doorbell) -> None:
        """Start from the latest press snapshot Home Assistant knows of."""
        self._snapshot = data.press_snapshots.get(doorbell.id)
        DoorwardDoorbellEntity.__init__(self, data, doorbell, LAST_PRESS_DESCRIPTION)
        ImageEntity.__init__(self, data.hass)
        self._cached_seq: int | None = None

    @callback
    def _async_update_attrs(self) -> None:
        self._attr_image_last_updated = self._snapshot.updated if self._snapshot else None

    @property
    def entity_picture(self) -> str | None:
        """No picture before the first press: the frontend shows the icon, asks for nothing."""
        if self._snapshot is None:
            return None
        return super().entity_picture

    async def async_added_to_hass(self) -> None:
        """Receive the doorbell's press snapshots."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.data.async_add_snapshot_listener(self.doorbell_id, self._async_handle_snapshot)
        )

    @callback
    def _async_handle_snapshot(self, snapshot: PressSnapshot) -> None:
        self._snapshot = snapshot
        self._cached_image = None
        self._async_handle_update()

    async def async_image(self) -> bytes | None:
        """The stored picture of the latest press."""
        if (snapshot := self._snapshot) is None:
            return None
        if self._cached_image is not None and self._cached_seq == snapshot.seq:
            return self._cached_image.content
        try:
            content = await self.data.client.event_snapshot(snapshot.seq)
        except DoorwardNotFoundError:
            return None
        except DoorwardError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="snapshot_failed",
                translation_placeholders={"name": self.doorbell.name, "error": str(err)},
            ) from err
        if self._snapshot is snapshot:
            self._cached_image = Image(content_type="image/jpeg", content=content)
            self._cached_seq = snapshot.seq
        return content
