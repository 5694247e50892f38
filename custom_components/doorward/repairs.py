"""Fix flows of the integration's repair issues: a doorbell's device credentials, and the answer
to a police request (share all matching clips, choose clips, or decline: nothing is shared until
the person submits the step that says so)."""

from typing import Any

import probatio
from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import dt as dt_util

from .api import DoorwardApiError, DoorwardError, DoorwardNotFoundError, PoliceRequest
from .const import ATTR_CLIP_IDS, ATTR_RETENTION_DAYS, MAX_POLICE_RETENTION_DAYS
from .data import DoorwardConfigEntry
from .media_source import TRIGGER_TITLES
from .police import CLOSED, request_summary

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


RETENTION = NumberSelector(
    NumberSelectorConfig(
        min=1,
        max=MAX_POLICE_RETENTION_DAYS,
        step=1,
        mode=NumberSelectorMode.BOX,
        unit_of_measurement="d",
    )
)
SHARE_ALL_SCHEMA = probatio.Schema({probatio.Optional(ATTR_RETENTION_DAYS): RETENTION})
DECLINE_SCHEMA = probatio.Schema({})


class PoliceRequestFlow(RepairsFlow):
    """Answer one police request by hand: share all matching clips, choose some, or decline.

    The menu only chooses what to do; each choice is a form of its own whose submit is the
    person's decision (`doorward.answer_request` / `doorward.decline_request` do the same).
    """

    def __init__(self, entry_id: str, request_id: str) -> None:
        """The request of the issue."""
        self._entry_id = entry_id
        self._request_id = request_id

    def _context(self) -> tuple[DoorwardConfigEntry, PoliceRequest] | None:
        entry: DoorwardConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        request = entry.runtime_data.police.requests.get(self._request_id)
        if request is None or not request.pending:
            return None
        return entry, request

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """The request in full, and the three answers."""
        if (context := self._context()) is None:
            return self.async_abort(reason="request_closed")
        return self.async_show_menu(
            step_id="init",
            menu_options=["share_all", "choose", "decline"],
            description_placeholders=request_summary(context[1]),
        )

    async def async_step_share_all(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Confirm sharing every matching clip (optionally limiting how long the agency keeps
        them); submitting shares."""
        if (context := self._context()) is None:
            return self.async_abort(reason="request_closed")
        if user_input is not None:
            return await self._async_answer(context[0], None, user_input)
        return self.async_show_form(
            step_id="share_all",
            data_schema=SHARE_ALL_SCHEMA,
            description_placeholders=request_summary(context[1]),
        )

    async def async_step_choose(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Pick the clips to share (each with its doorbell and time); submitting shares them."""
        if (context := self._context()) is None:
            return self.async_abort(reason="request_closed")
        entry, request = context
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input.get(ATTR_CLIP_IDS):
                return await self._async_answer(entry, user_input[ATTR_CLIP_IDS], user_input)
            errors["base"] = "no_clips_chosen"
        try:
            options = [await self._clip_option(entry, clip_id) for clip_id in request.clip_ids]
        except DoorwardError:
            return self.async_abort(reason="cannot_connect")
        schema = probatio.Schema(
            {
                probatio.Required(ATTR_CLIP_IDS, default=[]): SelectSelector(
                    SelectSelectorConfig(
                        options=options, multiple=True, mode=SelectSelectorMode.LIST
                    )
                ),
                probatio.Optional(ATTR_RETENTION_DAYS): RETENTION,
            }
        )
        return self.async_show_form(
            step_id="choose",
            data_schema=schema,
            errors=errors,
            description_placeholders=request_summary(request),
        )

    async def async_step_decline(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Confirm declining; submitting declines (nothing is sent to anyone)."""
        if (context := self._context()) is None:
            return self.async_abort(reason="request_closed")
        entry, request = context
        if user_input is not None:
            data = entry.runtime_data
            try:
                await data.police.async_decline(data.client, self._request_id)
            except DoorwardApiError as err:
                if err.code in CLOSED:
                    return self.async_abort(reason="request_closed")
                return self.async_abort(reason="answer_failed")
            except DoorwardError:
                return self.async_abort(reason="cannot_connect")
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="decline",
            data_schema=DECLINE_SCHEMA,
            description_placeholders=request_summary(request),
        )

    async def _async_answer(
        self, entry: DoorwardConfigEntry, clip_ids: list[str] | None, user_input: dict[str, Any]
    ) -> RepairsFlowResult:
        data = entry.runtime_data
        days = user_input.get(ATTR_RETENTION_DAYS)
        try:
            await data.police.async_answer(
                data.client, self._request_id, clip_ids, None if days is None else int(days)
            )
        except DoorwardApiError as err:
            if err.code in CLOSED:
                return self.async_abort(reason="request_closed")
            return self.async_abort(reason="answer_failed")
        except DoorwardError:
            return self.async_abort(reason="cannot_connect")
        return self.async_create_entry(data={})

    @staticmethod
    async def _clip_option(entry: DoorwardConfigEntry, clip_id: str) -> SelectOptionDict:
        """A clip as the person picks it: doorbell, day and time, trigger, length."""
        data = entry.runtime_data
        try:
            clip = await data.client.clip(int(clip_id))
        except DoorwardNotFoundError:  # deleted by hand on the hub: the hub refuses sharing it
            return SelectOptionDict(value=clip_id, label=f"Clip {clip_id} (no longer on the hub)")
        doorbell = data.doorbells.get(clip.doorbell_id)
        started = dt_util.as_local(clip.start)
        trigger = TRIGGER_TITLES.get(clip.trigger, clip.trigger)
        name = doorbell.name if doorbell is not None else clip.doorbell_id
        return SelectOptionDict(
            value=clip_id,
            label=f"{name}: {started:%Y-%m-%d %H:%M:%S} {trigger} ({clip.duration:.0f} s)",
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
    if "request_id" in data:
        return PoliceRequestFlow(str(data["entry_id"]), str(data["request_id"]))
    return DoorbellCredentialsFlow(str(data["entry_id"]), str(data["doorbell_id"]))
