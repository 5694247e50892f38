"""Event entities: the ring and motion of each doorbell, its clips as they are stored, and the
posts of the hub's neighborhood group (on the group's device)."""

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.event import (
    DoorbellEventType,
    EventDeviceClass,
    EventEntity,
    EventEntityDescription,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .api import Clip, HubEvent, NeighborPost
from .const import (
    CAPABILITY_MOTION,
    CAPABILITY_VIDEO,
    DOMAIN,
    EVENT_CLIP_READY,
    EVENT_MOTION_START,
    EVENT_MOTION_STOP,
    EVENT_NEIGHBOR_POST,
    EVENT_PRESS,
)
from .data import DoorwardConfigEntry
from .entity import (
    DoorbellEntities,
    DoorwardDoorbellEntity,
    DoorwardEntityDescription,
    DoorwardGroupEntity,
    async_setup_doorbell_entities,
    async_setup_group_entities,
)
from .views import (
    CLIP_THUMBNAIL,
    clip_media_content_id,
    clip_url,
    neighbor_post_identifier,
    signed_neighbor_post_urls,
)

# Push platform: entities only write state when the hub sends something.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DoorwardEventEntityDescription(DoorwardEntityDescription, EventEntityDescription):
    """An event entity of a doorbell.

    `value_fn` names the event type the entity fires for a hub event (None: not this entity's).
    """

    value_fn: Callable[[HubEvent], str | None]


EVENTS: tuple[DoorwardEventEntityDescription, ...] = (
    DoorwardEventEntityDescription(
        key="ring",
        translation_key="doorbell",
        device_class=EventDeviceClass.DOORBELL,
        event_types=[DoorbellEventType.RING],
        value_fn=lambda event: DoorbellEventType.RING if event.type == EVENT_PRESS else None,
    ),
    DoorwardEventEntityDescription(
        key="motion",
        translation_key="motion",
        device_class=EventDeviceClass.MOTION,
        event_types=[EVENT_MOTION_START, EVENT_MOTION_STOP],
        exists_fn=lambda doorbell: CAPABILITY_MOTION in doorbell.capabilities,
        value_fn=lambda event: (
            event.type if event.type in (EVENT_MOTION_START, EVENT_MOTION_STOP) else None
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class DoorwardClipEventEntityDescription(DoorwardEntityDescription, EventEntityDescription):
    """The event entity of a doorbell's stored clips (its event data is the clip's)."""


CLIP_EVENTS: tuple[DoorwardClipEventEntityDescription, ...] = (
    DoorwardClipEventEntityDescription(
        key="clip",
        translation_key="clip",
        event_types=[EVENT_CLIP_READY],
        exists_fn=lambda doorbell: CAPABILITY_VIDEO in doorbell.capabilities,
    ),
)

NEIGHBOR_POST_DESCRIPTION = EventEntityDescription(
    key="neighbor_post", translation_key="neighbor_post", event_types=[EVENT_NEIGHBOR_POST]
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the event entities of every doorbell and the group's neighbor post entity."""
    async_setup_group_entities(
        entry,
        async_add_entities,
        lambda data: [DoorwardNeighborPostEntity(data, NEIGHBOR_POST_DESCRIPTION)],
    )
    async_setup_doorbell_entities(
        entry,
        async_add_entities,
        DoorbellEntities(DoorwardEventEntity, EVENTS),
        DoorbellEntities(DoorwardClipEventEntity, CLIP_EVENTS),
    )


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
        if (event_type := self.entity_description.value_fn(event)) is None:
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

    entity_description: DoorwardClipEventEntityDescription

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


class DoorwardNeighborPostEntity(DoorwardGroupEntity, EventEntity):
    """Fires `neighbor_post` for each post the hub receives from its neighborhood group.

    The event data says how far away (`cells_from_home`, H3 cells), when (`time`), what the
    neighbor wrote (`message`; `text` is the post's readable body), whether the hub verified
    the clip's signed manifest, and where to view it: `url` and `thumbnail` are signed paths
    of Home Assistant's relay (they open from a notification in the companion app without a
    login, for a day), `media_content_id` plays it on a media player.
    """

    async def async_added_to_hass(self) -> None:
        """Receive the group's posts."""
        await super().async_added_to_hass()
        self.async_on_remove(self.neighborhood.async_add_post_listener(self._async_handle_post))

    @callback
    def _async_handle_post(self, post: NeighborPost) -> None:
        entry_id = self.data.entry.entry_id
        sent = dt_util.utc_from_timestamp(post.sent_ms / 1000)
        self._trigger_event(
            EVENT_NEIGHBOR_POST,
            {
                "event_id": post.event_id,
                "sender": post.sender,
                "sent": post.sent_ms,
                "time": sent.isoformat(),
                "kind": post.kind,
                "message": post.message,
                "text": post.body,
                "cells_from_home": post.cells_from_home,
                "verified": post.verified,
                "verification": post.verification,
                "has_video": post.has_video,
                **signed_neighbor_post_urls(self.hass, entry_id, post),
                "media_content_id": (
                    f"media-source://{DOMAIN}/{neighbor_post_identifier(entry_id, post.event_id)}"
                    if post.has_video
                    else None
                ),
            },
        )
        self.async_write_ha_state()
