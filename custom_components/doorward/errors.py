"""One mapping of the hub client's errors to Home Assistant's exceptions.

Every caller that talks to the hub on someone's behalf (camera, switch, image, the `record`
action, the clip relay, the media source) turns a failure into an exception here, so they all
agree: a refused token raises `invalid_auth` and starts reauthentication; a hub that cannot be
reached (or fails with a 5xx) raises `hub_unreachable`; a request the hub refused raises the
caller's own translation key with the hub's reason. Setting up the entry maps the same errors
to `ConfigEntryAuthFailed` / `ConfigEntryNotReady`.
"""

from collections.abc import Mapping

from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryNotReady,
    HomeAssistantError,
)

from .api import DoorwardAuthenticationError, DoorwardClient, DoorwardConnectionError, DoorwardError
from .const import DOMAIN
from .data import DoorwardConfigEntry


def _unreachable_placeholders(
    title: str, client: DoorwardClient, err: DoorwardError
) -> dict[str, str]:
    return {"name": title, "url": str(client.base_url), "error": str(err)}


def hub_error(
    entry: DoorwardConfigEntry,
    err: DoorwardError,
    failure_key: str,
    placeholders: Mapping[str, str] | None = None,
    *,
    error: type[HomeAssistantError] = HomeAssistantError,
) -> HomeAssistantError:
    """The translated exception (of type `error`) for a failed request to the entry's hub.

    A refused token also starts the entry's reauthentication flow. `failure_key` translates a
    request the hub refused; its placeholders are `placeholders` plus the hub's `error`.
    """
    if isinstance(err, DoorwardAuthenticationError):
        entry.async_start_reauth(entry.runtime_data.hass)
        return error(translation_domain=DOMAIN, translation_key="invalid_auth")
    if isinstance(err, DoorwardConnectionError):
        return error(
            translation_domain=DOMAIN,
            translation_key="hub_unreachable",
            translation_placeholders=_unreachable_placeholders(
                entry.title, entry.runtime_data.client, err
            ),
        )
    return error(
        translation_domain=DOMAIN,
        translation_key=failure_key,
        translation_placeholders={**(placeholders or {}), "error": str(err)},
    )


def setup_error(
    entry: DoorwardConfigEntry, client: DoorwardClient, err: DoorwardError
) -> ConfigEntryAuthFailed | ConfigEntryNotReady:
    """The exception that ends a failed setup: reauthentication, or a retry later."""
    if isinstance(err, DoorwardAuthenticationError):
        return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_auth")
    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key="hub_unreachable",
        translation_placeholders=_unreachable_placeholders(entry.title, client, err),
    )
