"""Config flow for Doorward: discover or enter a hub, then pair with its one-time code.

The options flow joins the hub to a neighborhood group (paste the invite a group admin gave)
or leaves it.
"""

from collections.abc import Mapping
from typing import Any

import probatio
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import BooleanSelector, TextSelector, TextSelectorConfig
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from .api import (
    DoorwardApiError,
    DoorwardClient,
    DoorwardConnectionError,
    DoorwardError,
    DoorwardInvalidCodeError,
    PairingResult,
)
from .const import (
    CLIENT_NAME,
    CONF_PAIRING_CODE,
    CONF_TOKEN_ID,
    DEFAULT_HUB_NAME,
    DEFAULT_PORT,
    DOMAIN,
    SUPPORTED_API_VERSION,
    ZEROCONF_API,
    ZEROCONF_HUB_ID,
    ZEROCONF_NAME,
)

ADDRESS_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(),
        probatio.Required(CONF_PORT, default=DEFAULT_PORT): probatio.Port(),
    }
)
PAIR_SCHEMA = probatio.Schema({probatio.Required(CONF_PAIRING_CODE): TextSelector()})
CONF_INVITE = "invite"
CONF_LEAVE = "leave"
JOIN_SCHEMA = probatio.Schema(
    {probatio.Required(CONF_INVITE): TextSelector(TextSelectorConfig(multiline=True))}
)
LEAVE_SCHEMA = probatio.Schema({probatio.Required(CONF_LEAVE, default=False): BooleanSelector()})
# The hub's refusals of a join, each with its own translated message.
JOIN_ERRORS = {
    "invalid_invite": "invalid_invite",
    # The join body is only the invite: a body the hub's schema refuses is not an invite.
    "invalid_request": "invalid_invite",
    "invite_rejected": "invite_rejected",
    "homeserver_unreachable": "homeserver_unreachable",
    "homeserver_refused": "homeserver_refused",
    "invalid_location": "invalid_location",
}


def _error_key(err: DoorwardError) -> str:
    if isinstance(err, DoorwardInvalidCodeError):
        return "invalid_code"
    if isinstance(err, DoorwardConnectionError):
        return "cannot_connect"
    return "invalid_response"


class DoorwardConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Doorward hub: its address (typed or discovered), then its pairing code."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> "DoorwardOptionsFlow":
        """Join or leave a neighborhood group."""
        return DoorwardOptionsFlow()

    def __init__(self) -> None:
        """Nothing known about the hub yet."""
        self._host = ""
        self._port = DEFAULT_PORT
        self._name = DEFAULT_HUB_NAME

    def _client(self, host: str, port: int) -> DoorwardClient:
        return DoorwardClient(async_get_clientsession(self.hass), host, port)

    async def _async_pair(
        self, host: str, port: int, user_input: dict[str, Any]
    ) -> PairingResult | str:
        """The pairing result, or the key of the error to show."""
        try:
            return await self._client(host, port).pair(user_input[CONF_PAIRING_CODE], CLIENT_NAME)
        except DoorwardError as err:
            return _error_key(err)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The hub's address, typed by the user."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = user_input[CONF_HOST].strip(), user_input[CONF_PORT]
            try:
                info = await self._client(host, port).info()
            except DoorwardError as err:
                errors["base"] = _error_key(err)
            else:
                await self.async_set_unique_id(info.hub_id, raise_on_progress=False)
                self._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port})
                self._host, self._port, self._name = host, port, info.name
                return await self.async_step_pair()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(ADDRESS_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A hub advertised `_doorward._tcp.local.`; a known one may have a new address."""
        properties = discovery_info.properties
        if not (hub_id := properties.get(ZEROCONF_HUB_ID)):
            return self.async_abort(reason="not_doorward_hub")
        if properties.get(ZEROCONF_API) != str(SUPPORTED_API_VERSION):
            return self.async_abort(reason="unsupported_api")
        port = discovery_info.port or DEFAULT_PORT
        await self.async_set_unique_id(hub_id)
        self._abort_if_unique_id_configured(
            updates={CONF_HOST: discovery_info.host, CONF_PORT: port}
        )
        self._host, self._port = discovery_info.host, port
        self._name = properties.get(ZEROCONF_NAME) or DEFAULT_HUB_NAME
        self.context["title_placeholders"] = {"name": self._name}
        return await self.async_step_pair()

    async def async_step_pair(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Confirm the hub and enter its one-time pairing code."""
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_pair(self._host, self._port, user_input)
            if isinstance(result, str):
                errors["base"] = result
            else:
                await self.async_set_unique_id(result.hub_id, raise_on_progress=False)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=self._name,
                    data={
                        CONF_HOST: self._host,
                        CONF_PORT: self._port,
                        CONF_TOKEN: result.token,
                        CONF_TOKEN_ID: result.token_id,
                    },
                )
        return self.async_show_form(
            step_id="pair",
            data_schema=PAIR_SCHEMA,
            errors=errors,
            description_placeholders={
                "name": self._name,
                "host": self._host,
                "port": str(self._port),
            },
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The hub no longer accepts the token (revoked): pair again."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter a new pairing code of the same hub."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            result = await self._async_pair(
                entry.data[CONF_HOST], entry.data[CONF_PORT], user_input
            )
            if isinstance(result, str):
                errors["base"] = result
            else:
                await self.async_set_unique_id(result.hub_id, raise_on_progress=False)
                self._abort_if_unique_id_mismatch(reason="wrong_hub")
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={CONF_TOKEN: result.token, CONF_TOKEN_ID: result.token_id},
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=PAIR_SCHEMA,
            errors=errors,
            description_placeholders={
                "host": entry.data[CONF_HOST],
                "port": str(entry.data[CONF_PORT]),
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the address of the hub (the same hub: its id must match)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            host, port = user_input[CONF_HOST].strip(), user_input[CONF_PORT]
            try:
                info = await self._client(host, port).info()
            except DoorwardError as err:
                errors["base"] = _error_key(err)
            else:
                await self.async_set_unique_id(info.hub_id, raise_on_progress=False)
                self._abort_if_unique_id_mismatch(reason="wrong_hub")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_HOST: host, CONF_PORT: port}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                ADDRESS_SCHEMA, user_input or entry.data
            ),
            errors=errors,
        )


class DoorwardOptionsFlow(OptionsFlow):
    """Join the hub to a neighborhood group with an invite, or leave its group.

    Joining also tells the hub Home Assistant's home location, which the hub keeps only as a
    coarse cell for its posts.
    """

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for an invite (not in a group) or whether to leave (in one)."""
        client: DoorwardClient = self.config_entry.runtime_data.client
        try:
            status = await client.neighborhood()
        except DoorwardError:
            return self.async_abort(reason="cannot_connect")
        if status.in_group:  # joined, or removed by an admin: leaving clears it
            return await self.async_step_leave()
        return await self.async_step_join(user_input)

    async def async_step_join(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Paste the invite."""
        client: DoorwardClient = self.config_entry.runtime_data.client
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await client.set_home(self.hass.config.latitude, self.hass.config.longitude)
                await client.join_group(user_input[CONF_INVITE])
            except DoorwardApiError as err:
                errors["base"] = JOIN_ERRORS.get(err.code or "", "invalid_response")
            except DoorwardError as err:
                errors["base"] = _error_key(err)
            else:
                return self.async_create_entry(data=dict(self.config_entry.options))
        return self.async_show_form(
            step_id="join", data_schema=JOIN_SCHEMA, errors=errors, last_step=True
        )

    async def async_step_leave(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Confirm leaving the group."""
        client: DoorwardClient = self.config_entry.runtime_data.client
        errors: dict[str, str] = {}
        if user_input is not None:
            if not user_input[CONF_LEAVE]:
                return self.async_abort(reason="still_in_group")
            try:
                await client.leave_group()
            except DoorwardError as err:
                errors["base"] = _error_key(err)
            else:
                return self.async_create_entry(data=dict(self.config_entry.options))
        return self.async_show_form(step_id="leave", data_schema=LEAVE_SCHEMA, errors=errors)
