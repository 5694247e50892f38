"""Event entities: the ring and motion of each doorbell, its clips as they are stored, the
posts of the hub's neighborhood group (on the group's device) and the police requests shown to
the household (on the hub's device)."""

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

from .api import Clip, HubEvent, NeighborPost, PoliceRequest
from .const import (
    CAPABILITY_MOTION,
    CAPABILITY_VIDEO,
    DOMAIN,
    EVENT_CLIP_READY,
    EVENT_MOTION_START,
    EVENT_MOTION_STOP,
    EVENT_NEIGHBOR_POST,
    EVENT_POLICE_AUTO_DECLINED,
    EVENT_POLICE_RECEIVED,
    EVENT_PRESS,
)
from .data import DoorwardConfigEntry
from .entity import (
    DoorbellEntities,
    DoorwardDoorbellEntity,
    DoorwardEntityDescription,
    DoorwardGroupEntity,
    DoorwardHubEntity,
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

POLICE_REQUEST_DESCRIPTION = EventEntityDescription(
    key="police_request",
    translation_key="police_request",
    event_types=[EVENT_POLICE_RECEIVED, EVENT_POLICE_AUTO_DECLINED],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DoorwardConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the event entities of every doorbell, the group's neighbor post entity and the
    hub's police request entity."""
    async_add_entities(
        [DoorwardPoliceRequestEntity(entry.runtime_data, POLICE_REQUEST_DESCRIPTION)]
    )
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


class DoorwardPoliceRequestEntity(DoorwardHubEntity, EventEntity):
    """Fires when the hub shows this household a police request: `received` when it waits for
    a person's answer, `auto_declined` when one of the household's decline rules declined it.

    The event data is the request in full (agency, case number, incident, legal basis, whether a
    warrant is attached, time window, area size, matching clip count, expiry) and its
    `request_id`, which `doorward.answer_request` and `doorward.decline_request` take.
    """

    async def async_added_to_hass(self) -> None:
        """Receive the hub's police requests."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.data.police.async_add_request_listener(self._async_handle_request)
        )

    @callback
    def _async_handle_request(self, request: PoliceRequest) -> None:
        if request.pending:
            event_type = EVENT_POLICE_RECEIVED
        elif request.declined_by_rule is not None:
            event_type = EVENT_POLICE_AUTO_DECLINED
        else:
            return  # answered or expired before Home Assistant heard of it
        self._trigger_event(event_type, police_request_data(request))
        self.async_write_ha_state()


def police_request_data(request: PoliceRequest) -> dict[str, object]:
    """A request as event data (and the blueprint's notification text)."""
    start = dt_util.utc_from_timestamp(request.window_start_ms / 1000)
    end = dt_util.utc_from_timestamp(request.window_end_ms / 1000)
    expires = dt_util.utc_from_timestamp(request.expires_ms / 1000)
    return {
        "request_id": request.request_id,
        "agency": request.agency,
        "agency_name": request.agency_name,
        "agency_jurisdiction": request.agency_jurisdiction,
        "case_number": request.case_number,
        "incident_type": request.incident_type,
        "description": request.description,
        "legal_basis": request.legal_basis,
        "warrant_attached": request.has_warrant,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "area_m2": request.area_m2,
        "matching_clip_count": len(request.clip_ids),
        "expires": expires.isoformat(),
        "contact": request.contact,
        "declined_by_rule": request.declined_by_rule,
        "decline_reason": request.decline_reason,
    }
