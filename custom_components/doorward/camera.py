"""Camera entities: the live picture and video of each doorbell, relayed by the hub."""

from collections.abc import Iterable
from pathlib import Path

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
# What the camera shows while the doorbell is in privacy mode, instead of a blank view.
PRIVACY_MODE_PICTURE = Path(__file__).parent / "privacy_mode.jpg"


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
        self._privacy_picture: bytes | None = None
        DoorwardDoorbellEntity.__init__(self, data, doorbell, CAMERA_DESCRIPTION)
        Camera.__init__(self)
        self._attr_model = doorbell.model or None

    @callback
    def _async_update_attrs(self) -> None:
        # Privacy mode: no picture and no stream from the device. The camera stays on and shows
        # a picture that says so (an "off" camera is a blank view, and asking it for a stream
        # makes Home Assistant log an error); without the stream feature the frontend asks for
        # pictures only.
        streams = CAPABILITY_VIDEO in self.doorbell.capabilities and not self.doorbell.privacy_mode
        self._attr_supported_features = (
            CameraEntityFeature.STREAM if streams else CameraEntityFeature(0)
        )

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
        """The current picture, fetched through the hub; in privacy mode, a picture saying so."""
        if self.doorbell.privacy_mode:
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
