"""Camera entities: the live picture and video of each doorbell, relayed by the hub."""

from collections.abc import Iterable

from homeassistant.components.camera import Camera
from homeassistant.components.camera.const import CameraEntityFeature
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell
from .const import CAPABILITY_SNAPSHOT, CAPABILITY_VIDEO
from .data import DoorwardConfigEntry, DoorwardData
from .entity import DoorwardDoorbellEntity, async_setup_doorbell_entities

PARALLEL_UPDATES = 0

CAMERA_DESCRIPTION = EntityDescription(key="camera", name=None)


def _entities(data: DoorwardData, doorbell: Doorbell) -> Iterable[Entity]:
    if not doorbell.capabilities & {CAPABILITY_SNAPSHOT, CAPABILITY_VIDEO}:
        return []
    return [DoorwardCamera(data, doorbell)]


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up a camera for every doorbell that has one."""
    async_setup_doorbell_entities(entry, async_add_entities, _entities)


class DoorwardCamera(DoorwardDoorbellEntity, Camera):
    """Stills from `/doorbells/{id}/snapshot`, video from `/doorbells/{id}/video`."""

    def __init__(self, data: DoorwardData, doorbell: Doorbell) -> None:
        """Stream only if the doorbell has video."""
        DoorwardDoorbellEntity.__init__(self, data, doorbell, CAMERA_DESCRIPTION)
        Camera.__init__(self)
        if CAPABILITY_VIDEO in doorbell.capabilities:
            self._attr_supported_features = CameraEntityFeature.STREAM
        self._attr_model = doorbell.model or None

    @callback
    def _async_update_attrs(self) -> None:
        # Privacy mode turns the camera off: no stills, no stream.
        self._attr_is_on = not self.doorbell.privacy_mode

    @property
    def available(self) -> bool:
        """The picture comes from the device: it must be online."""
        return super().available and self.doorbell.online

    async def stream_source(self) -> str | None:
        """The hub's video relay; the token rides in the query (stream workers set no headers)."""
        if self.doorbell.privacy_mode or CAPABILITY_VIDEO not in self.doorbell.capabilities:
            return None
        return self.data.client.video_url(self.doorbell_id)

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """The current picture, fetched through the hub."""
        if self.doorbell.privacy_mode or CAPABILITY_SNAPSHOT not in self.doorbell.capabilities:
            return None
        return await self._async_hub_request(
            self.data.client.snapshot(self.doorbell_id), "snapshot_failed"
        )
