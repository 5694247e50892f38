"""Camera entities: the live picture and video of each doorbell, relayed by the hub."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
    """A camera of a doorbell and whether the device may show its picture."""

    value_fn: Callable[[Doorbell], bool]


# What the camera shows while the doorbell is in privacy mode, instead of a blank view.
PRIVACY_MODE_PICTURE = Path(__file__).parent / "privacy_mode.jpg"


CAMERAS: tuple[DoorwardCameraEntityDescription, ...] = (
    DoorwardCameraEntityDescription(
        key="camera",
        name=None,
        exists_fn=lambda doorbell: bool(
            doorbell.capabilities & {CAPABILITY_SNAPSHOT, CAPABILITY_VIDEO}
        ),
        # Privacy mode: the device shows nothing (no stills, no stream).
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
    _state_attrs = ("_attr_available", "_attr_supported_features")

    def __init__(
        self, data: DoorwardData, doorbell: Doorbell, description: DoorwardCameraEntityDescription
    ) -> None:
        """Stream only if the doorbell has video."""
        self._privacy_picture: bytes | None = None
        DoorwardDoorbellEntity.__init__(self, data, doorbell, description)
        Camera.__init__(self)
        self._attr_model = doorbell.model or None

    @callback
    def _async_update_attrs(self) -> None:
        super()._async_update_attrs()
        # The picture comes from the device: it must be online.
        self._attr_available = self._attr_available and self.doorbell.online
        # Privacy mode: no picture and no stream from the device. The camera stays on and shows
        # a picture that says so (an "off" camera is a blank view, and asking it for a stream
        # makes Home Assistant log an error); without the stream feature the frontend asks for
        # pictures only.
        streams = (
            CAPABILITY_VIDEO in self.doorbell.capabilities
            and self.entity_description.value_fn(self.doorbell)
        )
        self._attr_supported_features = (
            CameraEntityFeature.STREAM if streams else CameraEntityFeature(0)
        )

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
        """The current picture, fetched through the hub; in privacy mode, a picture saying so."""
        if not self.entity_description.value_fn(self.doorbell):
            if self._privacy_picture is None:
                self._privacy_picture = await self.hass.async_add_executor_job(
                    PRIVACY_MODE_PICTURE.read_bytes
                )
            return self._privacy_picture
        if CAPABILITY_SNAPSHOT not in self.doorbell.capabilities:
            return None
        return await self._async_hub_request(
            self.data.client.snapshot(self.doorbell_id), "snapshot_failed"
        )
