"""Event entities: the ring and motion of each doorbell, and its clips as they are stored."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from homeassistant.components.event import (
    DoorbellEventType,
    EventDeviceClass,
    EventEntity,
    EventEntityDescription,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Clip, Doorbell, HubEvent
from .const import (
    CAPABILITY_MOTION,
    CAPABILITY_VIDEO,
    EVENT_CLIP_READY,
    EVENT_MOTION_START,
    EVENT_MOTION_STOP,
    EVENT_PRESS,
)
from .data import DoorwardConfigEntry, DoorwardData
from .entity import DoorwardDoorbellEntity, async_setup_doorbell_entities
from .views import CLIP_THUMBNAIL, clip_media_content_id, clip_url

# Push platform: entities only write state when the hub sends something.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DoorwardEventEntityDescription(EventEntityDescription):
    """An event entity and the hub event types it fires for."""

    hub_event_types: Mapping[str, str]
    capability: str | None = None


EVENT_DESCRIPTIONS: tuple[DoorwardEventEntityDescription, ...] = (
    DoorwardEventEntityDescription(
        key="ring",
        translation_key="doorbell",
        device_class=EventDeviceClass.DOORBELL,
        event_types=[DoorbellEventType.RING],
        hub_event_types={EVENT_PRESS: DoorbellEventType.RING},
    ),
    DoorwardEventEntityDescription(
        key="motion",
        translation_key="motion",
        device_class=EventDeviceClass.MOTION,
        event_types=[EVENT_MOTION_START, EVENT_MOTION_STOP],
        hub_event_types={
            EVENT_MOTION_START: EVENT_MOTION_START,
            EVENT_MOTION_STOP: EVENT_MOTION_STOP,
        },
        capability=CAPABILITY_MOTION,
    ),
)


CLIP_DESCRIPTION = EventEntityDescription(
    key="clip", translation_key="clip", event_types=[EVENT_CLIP_READY]
)


def _entities(data: DoorwardData, doorbell: Doorbell) -> Iterable[Entity]:
    entities: list[Entity] = [
        DoorwardEventEntity(data, doorbell, description)
        for description in EVENT_DESCRIPTIONS
        if description.capability is None or description.capability in doorbell.capabilities
    ]
    if CAPABILITY_VIDEO in doorbell.capabilities:
        entities.append(DoorwardClipEventEntity(data, doorbell, CLIP_DESCRIPTION))
    return entities


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the event entities of every doorbell."""
    async_setup_doorbell_entities(entry, async_add_entities, _entities)


class DoorwardEventEntity(DoorwardDoorbellEntity, EventEntity):
    """Fires when the hub pushes a matching event; the event data carries the hub's seq."""

    entity_description: DoorwardEventEntityDescription

    async def async_added_to_hass(self) -> None:
        """Receive the doorbell's events."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.data.async_add_event_listener(self.doorbell_id, self._async_handle_event)
        )

    @callback
    def _async_handle_event(self, event: HubEvent) -> None:
        if (event_type := self.entity_description.hub_event_types.get(event.type)) is None:
            return
        attributes: dict[str, object] = {"seq": event.seq, "time": event.time}
        if event.type == EVENT_PRESS:
            attributes["presses"] = event.presses
            if event.button is not None:  # stations with several buttons say which
                attributes["button"] = event.button
        self._trigger_event(event_type, attributes)
        self.async_write_ha_state()


class DoorwardClipEventEntity(DoorwardDoorbellEntity, EventEntity):
    """Fires `clip_ready` when the hub has stored a clip of the doorbell.

    The event data says which clip and where Home Assistant serves it: `url` and `thumbnail`
    are paths of the authenticated clip relay, `media_content_id` plays it on a media player.
    """

    async def async_added_to_hass(self) -> None:
        """Receive the doorbell's clips."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.data.async_add_clip_listener(self.doorbell_id, self._async_handle_clip)
        )

    @callback
    def _async_handle_clip(self, clip: Clip) -> None:
        entry_id = self.data.entry.entry_id
        self._trigger_event(
            EVENT_CLIP_READY,
            {
                "clip_id": clip.id,
                "trigger": clip.trigger,
                "trigger_seq": clip.trigger_seq,
                "start": clip.start.isoformat(),
                "duration": clip.duration,
                "url": clip_url(entry_id, clip.id),
                "thumbnail": clip_url(entry_id, clip.id, CLIP_THUMBNAIL),
                "media_content_id": clip_media_content_id(entry_id, clip),
            },
        )
        self.async_write_ha_state()
