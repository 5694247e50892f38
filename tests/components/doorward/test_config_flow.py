"""The config flow, against a real hub: discovery, manual entry, pairing, reauth, reconfigure."""

import dataclasses
from collections.abc import Awaitable, Callable

import pytest
from homeassistant import loader
from homeassistant.components.zeroconf.discovery import info_from_service
from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from custom_components.doorward.const import CONF_TOKEN_ID, DOMAIN
from doorward_simulator import SimulatedDoorbell

from ..conftest import (
    LOOPBACK,
    PAIRING_CODE,
    HubRunner,
    async_add_hub,
    free_port,
    start_reauth,
    start_reconfigure,
    wait_for,
)

HUB_SERVICE_TYPE = "_doorward._tcp.local."


async def discover_hub(hub: HubRunner) -> ZeroconfServiceInfo:
    """Browse mDNS on loopback for the hub's advertisement, as Home Assistant's zeroconf does."""
    aiozc = AsyncZeroconf(interfaces=[LOOPBACK])
    names: list[str] = []

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.append(name)

    browser = AsyncServiceBrowser(aiozc.zeroconf, [HUB_SERVICE_TYPE], handlers=[on_change])
    try:

        async def resolved() -> ZeroconfServiceInfo | None:
            for name in names:
                info = AsyncServiceInfo(HUB_SERVICE_TYPE, name)
                if not await info.async_request(aiozc.zeroconf, 3000):
                    continue
                discovered = info_from_service(info)
                if discovered and discovered.properties.get("hub_id") == hub.hub_id:
                    return discovered
            return None

        info: ZeroconfServiceInfo = await wait_for(resolved, timeout=20, interval=0.1)
    finally:
        await browser.async_cancel()
        await aiozc.async_close()
    return info


async def test_manifest_matches_hub_advertisement(hass: HomeAssistant) -> None:
    """Home Assistant's zeroconf discovery routes `_doorward._tcp.local.` to the integration."""
    matchers = await loader.async_get_zeroconf(hass)
    assert {"domain": DOMAIN} in matchers[HUB_SERVICE_TYPE]


async def test_zeroconf_discovery_then_pairing(hass: HomeAssistant, hub: HubRunner) -> None:
    """A discovered hub is confirmed with its code: a wrong one is refused, the right one pairs."""
    discovery = await discover_hub(hub)
    assert discovery.port == hub.port
    assert discovery.properties["api"] == "1"

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=discovery
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pair"
    assert result["description_placeholders"] == {
        "name": "Test hub",
        "host": LOOPBACK,
        "port": str(hub.port),
    }
    flows = hass.config_entries.flow.async_progress()
    assert flows[0]["context"]["title_placeholders"] == {"name": "Test hub"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {PAIRING_CODE: "AAAA-BBBB"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_code"}

    # Typed in lower case and without the dash: the hub accepts it.
    code = (await hub.new_code()).replace("-", "").lower()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {PAIRING_CODE: code})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Test hub"
    entry = result["result"]
    assert entry.unique_id == hub.hub_id
    assert entry.data[CONF_HOST] == LOOPBACK
    assert entry.data[CONF_PORT] == hub.port
    assert entry.data[CONF_TOKEN_ID].startswith("tok_")
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    # The hub lists Home Assistant's token.
    status, body = await hub.api("GET", "/tokens")
    assert status == 200
    assert {
        "id": entry.data[CONF_TOKEN_ID],
        "client_name": "Home Assistant",
    }.items() <= next(t for t in body["tokens"] if t["id"] == entry.data[CONF_TOKEN_ID]).items()

    # Discovered again: already configured.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=discovery
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_zeroconf_rediscovery_updates_address(hass: HomeAssistant, hub: HubRunner) -> None:
    """A configured hub that comes back on another port is followed: the entry is updated."""
    entry = await async_add_hub(hass, hub)
    old_port = hub.port
    await hub.stop()
    await hub.start(port=free_port())
    assert hub.port != old_port

    discovery = await discover_hub(hub)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=discovery
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == hub.port
    await hass.async_block_till_done()
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and entry.runtime_data.connected)
    assert entry.runtime_data.client.port == hub.port


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"hub_id": None}, "not_doorward_hub"),
        ({"api": "2"}, "unsupported_api"),
    ],
)
async def test_zeroconf_not_a_usable_hub(
    hass: HomeAssistant, hub: HubRunner, properties: dict[str, str | None], reason: str
) -> None:
    """An advertisement without a hub id, or of another API version, is not offered."""
    discovery = await discover_hub(hub)
    changed = {
        key: value
        for key, value in {**discovery.properties, **properties}.items()
        if value is not None
    }
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=dataclasses.replace(discovery, properties=changed),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_user_flow(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell_factory: Callable[..., Awaitable[SimulatedDoorbell]],
) -> None:
    """Manual entry: unreachable address, not a hub, then the hub, a wrong and a right code."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: LOOPBACK, CONF_PORT: free_port()}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    # A simulated doorbell answers HTTP, but it is not a hub.
    not_a_hub = await doorbell_factory("sim-not-a-hub", "Not a hub")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: LOOPBACK, CONF_PORT: not_a_hub.port}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_response"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: f" {LOOPBACK} ", CONF_PORT: hub.port}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pair"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {PAIRING_CODE: "ZZZZ-ZZZZ"}
    )
    assert result["errors"] == {"base": "invalid_code"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {PAIRING_CODE: await hub.new_code()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_HOST] == LOOPBACK
    assert result["data"][CONF_PORT] == hub.port
    await hass.async_block_till_done()

    # The same hub again: already configured.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: LOOPBACK, CONF_PORT: hub.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_hub_stops_between_address_and_code(hass: HomeAssistant, hub: HubRunner) -> None:
    """The hub goes away after its address was checked: the code step says so."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: LOOPBACK, CONF_PORT: hub.port}
    )
    code = await hub.new_code()
    await hub.stop()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {PAIRING_CODE: code})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_reauth_flow(
    hass: HomeAssistant,
    hub: HubRunner,
    hub_factory: Callable[..., Awaitable[HubRunner]],
) -> None:
    """Reauth pairs again with a new code of the same hub; another hub's code is refused."""
    entry = await async_add_hub(hass, hub)
    old_token = entry.data[CONF_TOKEN]

    result = await start_reauth(hass, entry)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"]["name"] == "Test hub"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {PAIRING_CODE: "WXYZ-2345"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_code"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {PAIRING_CODE: await hub.new_code()}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_TOKEN] != old_token
    await hass.async_block_till_done()
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and entry.runtime_data.connected)

    # The entry's address now leads to another hub: its code cannot reauthenticate this entry.
    other = await hub_factory("Other hub")
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PORT: other.port})
    result = await start_reauth(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {PAIRING_CODE: await other.new_code()}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_hub"


async def test_reconfigure_flow(
    hass: HomeAssistant,
    hub: HubRunner,
    hub_factory: Callable[..., Awaitable[HubRunner]],
) -> None:
    """Reconfigure moves the entry to the hub's new address; only the same hub is accepted."""
    entry = await async_add_hub(hass, hub)
    other = await hub_factory("Other hub")

    result = await start_reconfigure(hass, entry)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: LOOPBACK, CONF_PORT: free_port()}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: LOOPBACK, CONF_PORT: other.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_hub"

    # The hub restarts on another port; reconfigure follows it.
    await hub.stop()
    await hub.start(port=free_port())
    result = await start_reconfigure(hass, entry)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: LOOPBACK, CONF_PORT: hub.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == hub.port
    await hass.async_block_till_done()
    await wait_for(lambda: entry.state is ConfigEntryState.LOADED and entry.runtime_data.connected)
