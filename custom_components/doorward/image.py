"""Image entities: the picture the hub took at each doorbell's latest press."""

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.image import Image, ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell, DoorwardError, DoorwardNotFoundError
from .const import CAPABILITY_SNAPSHOT
from .data import DoorwardConfigEntry, DoorwardData, PressSnapshot
from .entity import (
    DoorbellEntities,
    DoorwardDoorbellEntity,
    DoorwardEntityDescription,
    async_setup_doorbell_entities,
)
from .errors import hub_error

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DoorwardImageEntityDescription(DoorwardEntityDescription, ImageEntityDescription):
    """A stored picture of a doorbell: which one (from the data and the doorbell's id)."""

    value_fn: Callable[[DoorwardData, str], PressSnapshot | None]


IMAGES: tuple[DoorwardImageEntityDescription, ...] = (
    DoorwardImageEntityDescription(
        key="last_press",
        translation_key="last_press",
        exists_fn=lambda doorbell: CAPABILITY_SNAPSHOT in doorbell.capabilities,
        value_fn=lambda data, doorbell_id: data.press_snapshots.get(doorbell_id),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the press snapshot of every doorbell that takes pictures."""
    async_setup_doorbell_entities(
        entry, async_add_entities, DoorbellEntities(DoorwardPressImage, IMAGES)
    )


class DoorwardPressImage(DoorwardDoorbellEntity, ImageEntity):
    """The stored picture of the latest press (`/events/{seq}/snapshot`), never a live one.

    It changes when the hub announces (WebSocket `snapshot`) that it stored the picture.
    """

    entity_description: DoorwardImageEntityDescription
    _attr_content_type = "image/jpeg"
    _state_attrs = ("_attr_available", "_attr_image_last_updated")

    def __init__(
        self, data: DoorwardData, doorbell: Doorbell, description: DoorwardImageEntityDescription
    ) -> None:
        """Start from the latest press snapshot Home Assistant knows of."""
        self._snapshot: PressSnapshot | None = None
        DoorwardDoorbellEntity.__init__(self, data, doorbell, description)
        ImageEntity.__init__(self, data.hass)
        self._cached_seq: int | None = None

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        self._snapshot = self.entity_description.value_fn(self.data, self.doorbell_id)
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
            self.data.async_add_snapshot_listener(
                self.doorbell_id, lambda _snapshot: self._async_handle_update()
            )
        )

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
            raise hub_error(
                self.data.entry, err, "snapshot_failed", {"name": self.doorbell.name}
            ) from err
        if self._snapshot is snapshot:
            self._cached_image = Image(content_type="image/jpeg", content=content)
            self._cached_seq = snapshot.seq
        return content
