"""The integration's actions: `doorward.record`."""

import probatio
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .api import Doorbell, DoorwardError, DoorwardNotFoundError
from .const import ATTR_DURATION, DEFAULT_RECORD_SECONDS, DOMAIN, MAX_RECORD_SECONDS, SERVICE_RECORD
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


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every hub)."""
    hass.services.async_register(DOMAIN, SERVICE_RECORD, _async_record, schema=RECORD_SCHEMA)
