"""Camera entities: the live picture and video of each doorbell, relayed by the hub."""

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.camera import Camera, CameraEntityDescription
from homeassistant.components.camera.const import CameraEntityFeature
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Doorbell
from .const import CAPABILITY_SNAPSHOT, CAPABILITY_VIDEO
from .data import DoorwardConfigEntry, DoorwardData
from .entity import (
    DoorbellEntities,
    DoorwardDoorbellEntity,
    DoorwardEntityDescription,
    async_setup_doorbell_entities,
)

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DoorwardCameraEntityDescription(DoorwardEntityDescription, CameraEntityDescription):
    """A camera of a doorbell and when it shows something."""

    value_fn: Callable[[Doorbell], bool]


CAMERAS: tuple[DoorwardCameraEntityDescription, ...] = (
    DoorwardCameraEntityDescription(
        key="camera",
        name=None,
        exists_fn=lambda doorbell: bool(
            doorbell.capabilities & {CAPABILITY_SNAPSHOT, CAPABILITY_VIDEO}
        ),
        # Privacy mode turns the camera off: no stills, no stream.
        value_fn=lambda doorbell: not doorbell.privacy_mode,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up a camera for every doorbell that has one."""
    async_setup_doorbell_entities(
        entry, async_add_entities, DoorbellEntities(DoorwardCamera, CAMERAS)
    )


class DoorwardCamera(DoorwardDoorbellEntity, Camera):
    """Stills from `/doorbells/{id}/snapshot`, video from `/doorbells/{id}/video`."""

    entity_description: DoorwardCameraEntityDescription
    _state_attrs = ("_attr_available", "_attr_is_on")

    def __init__(
        self, data: DoorwardData, doorbell: Doorbell, description: DoorwardCameraEntityDescription
    ) -> None:
        """Stream only if the doorbell has video."""
        DoorwardDoorbellEntity.__init__(self, data, doorbell, description)
        Camera.__init__(self)
        if CAPABILITY_VIDEO in doorbell.capabilities:
            self._attr_supported_features = CameraEntityFeature.STREAM
        self._attr_model = doorbell.model or None

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        # The picture comes from the device: it must be online.
        self._attr_available = self._attr_available and self.doorbell.online
        self._attr_is_on = self.entity_description.value_fn(self.doorbell)

    async def stream_source(self) -> str | None:
        """The hub's video relay; the token rides in the query (stream workers set no headers)."""
        if (
            not self.entity_description.value_fn(self.doorbell)
            or CAPABILITY_VIDEO not in self.doorbell.capabilities
        ):
            return None
        return self.data.client.video_url(self.doorbell_id)

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """The current picture, fetched through the hub."""
        if (
            not self.entity_description.value_fn(self.doorbell)
            or CAPABILITY_SNAPSHOT not in self.doorbell.capabilities
        ):
            return None
        return await self._async_hub_request(
            self.data.client.snapshot(self.doorbell_id), "snapshot_failed"
        )
