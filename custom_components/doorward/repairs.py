"""Fix flows of the integration's repair issues: a doorbell's device credentials."""

from typing import Any

import probatio
from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .api import DoorwardApiError, DoorwardError, DoorwardNotFoundError
from .data import DoorwardConfigEntry

CREDENTIALS_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_USERNAME): TextSelector(
            TextSelectorConfig(type=TextSelectorType.TEXT, autocomplete="username")
        ),
        probatio.Required(CONF_PASSWORD): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
        ),
    }
)


class DoorbellCredentialsFlow(RepairsFlow):
    """Enter a doorbell's device credentials (a DoorBird user with the API-Operator permission);
    the hub stores them and reconnects; if the device refuses them, the issue comes back."""

    def __init__(self, entry_id: str, doorbell_id: str) -> None:
        """The doorbell of the issue."""
        self._entry_id = entry_id
        self._doorbell_id = doorbell_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with the credentials form."""
        return await self.async_step_credentials()

    async def async_step_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Ask for the user name and password; hand them to the hub."""
        entry: DoorwardConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="hub_not_loaded")
        data = entry.runtime_data
        doorbell = data.doorbells.get(self._doorbell_id)
        if doorbell is None:
            return self.async_abort(reason="doorbell_gone")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                updated = await data.client.set_credentials(
                    doorbell.id, user_input[CONF_USERNAME], user_input[CONF_PASSWORD]
                )
            except DoorwardNotFoundError:
                return self.async_abort(reason="doorbell_gone")
            except DoorwardApiError:
                errors["base"] = "invalid_credentials"
            except DoorwardError:
                errors["base"] = "cannot_connect"
            else:
                data.async_update_doorbell(updated)
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="credentials",
            data_schema=self.add_suggested_values_to_schema(
                CREDENTIALS_SCHEMA, {CONF_USERNAME: (user_input or {}).get(CONF_USERNAME, "")}
            ),
            errors=errors,
            description_placeholders={"name": doorbell.name, "error": doorbell.error or ""},
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The fix flow of a repair issue of this integration."""
    data = data or {}
    return DoorbellCredentialsFlow(str(data["entry_id"]), str(data["doorbell_id"]))
