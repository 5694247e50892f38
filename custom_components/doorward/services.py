"""The integration's actions: `doorward.record`, `doorward.share_clip`, and the answers to police
requests, `doorward.answer_request` and `doorward.decline_request`."""

import probatio
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .api import Doorbell, DoorwardApiError, DoorwardError, DoorwardNotFoundError
from .const import (
    ATTR_CLIP_ID,
    ATTR_CLIP_IDS,
    ATTR_DURATION,
    ATTR_MESSAGE,
    ATTR_REQUEST_ID,
    ATTR_RETENTION_DAYS,
    DEFAULT_RECORD_SECONDS,
    DOMAIN,
    MAX_POLICE_RETENTION_DAYS,
    MAX_RECORD_SECONDS,
    MAX_SHARE_MESSAGE_LENGTH,
    SERVICE_ANSWER_REQUEST,
    SERVICE_DECLINE_REQUEST,
    SERVICE_RECORD,
    SERVICE_SHARE_CLIP,
)
from .data import DoorwardConfigEntry, doorbell_identifier
from .errors import hub_error

RECORD_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_DEVICE_ID): cv.string,
        probatio.Optional(ATTR_DURATION, default=DEFAULT_RECORD_SECONDS): probatio.All(
            probatio.Coerce(float), probatio.Range(min=1, max=MAX_RECORD_SECONDS)
        ),
    }
)

SHARE_CLIP_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_DEVICE_ID): cv.string,
        probatio.Required(ATTR_CLIP_ID): probatio.All(probatio.Coerce(int), probatio.Range(min=1)),
        probatio.Optional(ATTR_MESSAGE, default=""): probatio.All(
            cv.string, probatio.Length(max=MAX_SHARE_MESSAGE_LENGTH)
        ),
    }
)
# A police request's id, as the hub makes them (docs/police.md).
REQUEST_ID = probatio.All(cv.string, probatio.Match(r"^[A-Za-z0-9_-]{8,64}$"))
ANSWER_REQUEST_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_REQUEST_ID): REQUEST_ID,
        # Left out: every matching clip (the notification's "Share matching clips").
        probatio.Optional(ATTR_CLIP_IDS): probatio.All(
            cv.ensure_list,
            [probatio.All(probatio.Coerce(str), probatio.Match(r"^[0-9]{1,19}$"))],
            probatio.Length(min=1),
        ),
        probatio.Optional(ATTR_RETENTION_DAYS): probatio.All(
            probatio.Coerce(int), probatio.Range(min=1, max=MAX_POLICE_RETENTION_DAYS)
        ),
    }
)
DECLINE_REQUEST_SCHEMA = probatio.Schema({probatio.Required(ATTR_REQUEST_ID): REQUEST_ID})
# The hub's refusals of an answer, each with its own translation (the request is no longer
# pending, has expired, or the clips do not match it).
ANSWER_REFUSALS = {
    "not_pending": "request_not_pending",
    "expired": "request_expired",
    "not_matching": "request_clips_not_matching",
    "not_found": "unknown_request",
}
# The hub's refusals that the person can act on, each with its own translation.
SHARE_REFUSALS = {
    "not_joined": "share_not_in_group",
    "removed": "share_removed",
    "no_home_location": "share_no_home",
}


@callback
def _async_doorbell(hass: HomeAssistant, device_id: str) -> tuple[DoorwardConfigEntry, Doorbell]:
    """The hub and the doorbell of a doorbell's device."""
    if (device := dr.async_get(hass).async_get(device_id)) is not None:
        entries: list[DoorwardConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
        for entry in entries:
            data = entry.runtime_data
            for doorbell in data.doorbells.values():
                if (DOMAIN, doorbell_identifier(data.hub_id, doorbell.id)) in device.identifiers:
                    return entry, doorbell
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_doorbell",
        translation_placeholders={"device_id": device_id},
    )


async def _async_record(call: ServiceCall) -> None:
    """Ask the doorbell's hub to record a clip now; it arrives as a `clip_ready` event."""
    entry, doorbell = _async_doorbell(call.hass, call.data[ATTR_DEVICE_ID])
    placeholders = {"name": doorbell.name}
    if doorbell.privacy_mode:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="record_privacy_mode",
            translation_placeholders=placeholders,
        )
    try:
        await entry.runtime_data.client.record(doorbell.id, call.data[ATTR_DURATION])
    except DoorwardNotFoundError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_doorbell",
            translation_placeholders={"device_id": call.data[ATTR_DEVICE_ID]},
        ) from err
    except DoorwardError as err:
        # The hub's 409 doorbell_unavailable: offline, still connecting, recording off.
        raise hub_error(entry, err, "record_failed", placeholders) from err


async def _async_share_clip(call: ServiceCall) -> None:
    """Share one clip with the hub's neighborhood group.

    One call is one person's decision about one clip (the blueprint calls it only when the
    notification's share button is tapped); nothing else in the integration shares.
    """
    entry, doorbell = _async_doorbell(call.hass, call.data[ATTR_DEVICE_ID])
    clip_id = call.data[ATTR_CLIP_ID]
    placeholders = {"name": doorbell.name, "clip_id": str(clip_id)}
    try:
        await entry.runtime_data.client.share_clip(clip_id, call.data[ATTR_MESSAGE])
    except DoorwardApiError as err:
        if (key := SHARE_REFUSALS.get(err.code or "")) is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders={**placeholders, "error": str(err)},
            ) from err
        raise hub_error(entry, err, "share_failed", placeholders) from err
    except DoorwardError as err:
        raise hub_error(entry, err, "share_failed", placeholders) from err


@callback
def _async_request_entry(hass: HomeAssistant, request_id: str) -> DoorwardConfigEntry:
    """The hub that showed the household this request."""
    entries: list[DoorwardConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    for entry in entries:
        if request_id in entry.runtime_data.police.requests:
            return entry
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_request",
        translation_placeholders={"request_id": request_id},
    )


def _answer_error(entry: DoorwardConfigEntry, err: DoorwardError, request_id: str) -> Exception:
    placeholders = {"request_id": request_id, "error": str(err)}
    if isinstance(err, DoorwardApiError) and (key := ANSWER_REFUSALS.get(err.code or "")):
        return ServiceValidationError(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        )
    return hub_error(entry, err, "answer_failed", placeholders)


async def _async_answer_request(call: ServiceCall) -> None:
    """Share a police request's matching clips (all, or the ones named) with the agency.

    One call is one person's decision about one request (the blueprint calls it only when the
    notification's share button is tapped); nothing in the integration answers on its own.
    """
    request_id = call.data[ATTR_REQUEST_ID]
    entry = _async_request_entry(call.hass, request_id)
    data = entry.runtime_data
    try:
        await data.police.async_answer(
            data.client,
            request_id,
            call.data.get(ATTR_CLIP_IDS),
            call.data.get(ATTR_RETENTION_DAYS),
        )
    except DoorwardError as err:
        raise _answer_error(entry, err, request_id) from err


async def _async_decline_request(call: ServiceCall) -> None:
    """Decline a police request: nothing is sent to anyone."""
    request_id = call.data[ATTR_REQUEST_ID]
    entry = _async_request_entry(call.hass, request_id)
    data = entry.runtime_data
    try:
        await data.police.async_decline(data.client, request_id)
    except DoorwardError as err:
        raise _answer_error(entry, err, request_id) from err


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every hub)."""
    hass.services.async_register(DOMAIN, SERVICE_RECORD, _async_record, schema=RECORD_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_SHARE_CLIP, _async_share_clip, schema=SHARE_CLIP_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_ANSWER_REQUEST, _async_answer_request, schema=ANSWER_REQUEST_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DECLINE_REQUEST, _async_decline_request, schema=DECLINE_REQUEST_SCHEMA
    )
