"""The integration's actions: `doorward.record` and `doorward.share_clip`."""

import probatio
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .api import Doorbell, DoorwardApiError, DoorwardError, DoorwardNotFoundError
from .const import (
    ATTR_CLIP_ID,
    ATTR_DURATION,
    ATTR_MESSAGE,
    DEFAULT_RECORD_SECONDS,
    DOMAIN,
    MAX_RECORD_SECONDS,
    MAX_SHARE_MESSAGE_LENGTH,
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
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every hub)."""
    hass.services.async_register(DOMAIN, SERVICE_RECORD, _async_record, schema=RECORD_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_SHARE_CLIP, _async_share_clip, schema=SHARE_CLIP_SCHEMA
    )
