"""DoorBird credentials entered in Home Assistant: a repair issue per doorbell and its fix flow.

A real hub adopts an emulated DoorBird found by mDNS on loopback; the repair is driven through
Home Assistant's own repairs HTTP API, as the UI does.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.credentials import credentials_issue_id
from tests.hub.doorbird_emulator import DoorBirdEmulator

from ..conftest import RUN, HubRunner, async_add_hub, wait_for

MAC = "1CCAE3" + RUN.upper()
DOORBELL_ID = "doorbird-" + MAC.lower()

type EmulatorFactory = Callable[..., Awaitable[DoorBirdEmulator]]
type Client = Any  # Home Assistant's aiohttp test client (`hass_client`)


@pytest.fixture
async def doorbirds(hass: HomeAssistant) -> AsyncIterator[EmulatorFactory]:
    """Start emulated DoorBirds on loopback; all stop before `hass` does."""
    started: list[DoorBirdEmulator] = []

    async def start(**kwargs: Any) -> DoorBirdEmulator:
        device = DoorBirdEmulator(MAC, **kwargs)
        started.append(device)
        await device.start()
        return device

    yield start
    for device in started:
        await device.stop()


type ClientFactory = Callable[[], Awaitable[Client]]


async def repairs_api(hass: HomeAssistant, hass_client: ClientFactory) -> Client:
    """Home Assistant's repairs, through its HTTP API (once the integration's views are in)."""
    assert await async_setup_component(hass, "repairs", {})
    return await hass_client()


def issue(hass: HomeAssistant, entry_id: str) -> ir.IssueEntry | None:
    """The doorbell's credentials issue, if raised."""
    return ir.async_get(hass).async_get_issue(DOMAIN, credentials_issue_id(entry_id, DOORBELL_ID))


async def start_fix(client: Client, entry_id: str) -> dict[str, Any]:
    """Open the issue's fix flow, as the UI's "Fix" button does."""
    response = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": credentials_issue_id(entry_id, DOORBELL_ID)},
    )
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def submit(client: Client, flow_id: str, **user_input: str) -> dict[str, Any]:
    """Submit the fix flow's form."""
    response = await client.post(f"/api/repairs/issues/fix/{flow_id}", json=user_input)
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def test_credentials_entered_in_home_assistant(
    hass: HomeAssistant, hub: HubRunner, doorbirds: EmulatorFactory, hass_client: ClientFactory
) -> None:
    """Needed, then rejected, then accepted: the issue follows the doorbell's state."""
    device = await doorbirds()
    await wait_for(lambda: hub.doorbell(DOORBELL_ID))  # found and adopted
    entry = await async_add_hub(hass, hub)
    repairs = await repairs_api(hass, hass_client)

    raised = await wait_for(lambda: issue(hass, entry.entry_id))
    assert raised.translation_key == "doorbell_credentials_needed"
    assert raised.is_fixable
    assert raised.translation_placeholders == {
        "name": f"DoorBird D2101V - {MAC}",
        "error": "credentials needed",
    }

    # A user name the hub refuses: the form says so and stays open.
    flow = await start_fix(repairs, entry.entry_id)
    assert (flow["type"], flow["step_id"]) == ("form", "credentials")
    assert flow["description_placeholders"]["name"] == f"DoorBird D2101V - {MAC}"
    form = await submit(repairs, flow["flow_id"], username="a:b", password="x")
    assert (form["type"], form["errors"]) == ("form", {"base": "invalid_credentials"})

    # A wrong password: accepted by the hub, refused by the device, the issue comes back.
    done = await submit(repairs, flow["flow_id"], username=device.username, password="wrong")
    assert done["type"] == "create_entry"

    def rejected() -> bool:
        found = issue(hass, entry.entry_id)
        return found is not None and found.translation_key == "doorbell_credentials_rejected"

    await wait_for(rejected)
    assert device.unauthorized >= 1

    # The right ones: the doorbell goes online and the issue is gone.
    flow = await start_fix(repairs, entry.entry_id)
    done = await submit(
        repairs, flow["flow_id"], username=device.username, password=device.password
    )
    assert done["type"] == "create_entry"
    await wait_for(lambda: entry.runtime_data.doorbells[DOORBELL_ID].online)
    assert issue(hass, entry.entry_id) is None
    assert device.favorites_titled(f"Doorward {hub.hub_id} ")

    # A ring reaches the doorbell's event entity, with the button the station reported.
    ring = next(
        state.entity_id
        for state in hass.states.async_all("event")
        if state.entity_id.endswith("_doorbell") and MAC.lower() in state.entity_id
    )
    assert await device.press() == [204]
    await wait_for(lambda: hass.states.get(ring).attributes.get("button") == "1")
    assert hass.states.get(ring).attributes["event_type"] == "ring"


async def test_missing_api_operator_permission_is_its_own_issue(
    hass: HomeAssistant, hub: HubRunner, doorbirds: EmulatorFactory, hass_client: ClientFactory
) -> None:
    device = await doorbirds(api_operator=False)
    entry = await async_add_hub(hass, hub)
    repairs = await repairs_api(hass, hass_client)
    await wait_for(lambda: issue(hass, entry.entry_id))
    flow = await start_fix(repairs, entry.entry_id)
    await submit(repairs, flow["flow_id"], username=device.username, password=device.password)

    def permission_missing() -> bool:
        found = issue(hass, entry.entry_id)
        return found is not None and found.translation_key == "doorbell_permission_missing"

    await wait_for(permission_missing)
    found = issue(hass, entry.entry_id)
    assert found is not None
    assert "API-Operator" in found.translation_placeholders["error"]

    # Unloading the hub's entry takes its doorbells' issues along.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue(hass, entry.entry_id) is None


async def test_fix_flow_when_hub_or_doorbell_went_away(
    hass: HomeAssistant, hub: HubRunner, doorbirds: EmulatorFactory, hass_client: ClientFactory
) -> None:
    await doorbirds()
    entry = await async_add_hub(hass, hub)
    repairs = await repairs_api(hass, hass_client)
    await wait_for(lambda: issue(hass, entry.entry_id))

    # The hub stops answering while the form is open.
    flow = await start_fix(repairs, entry.entry_id)
    await hub.stop()
    form = await submit(repairs, flow["flow_id"], username="u", password="p")
    assert form["errors"] == {"base": "cannot_connect"}
    await hub.start()
    await wait_for(lambda: entry.runtime_data.connected)

    # The doorbell is forgotten on the hub (it waits for approval again: not Home Assistant's).
    flow = await start_fix(repairs, entry.entry_id)
    status, _ = await hub.api("DELETE", f"/doorbells/{DOORBELL_ID}")
    assert status == 204
    await wait_for(lambda: DOORBELL_ID not in entry.runtime_data.doorbells)
    assert issue(hass, entry.entry_id) is None
    gone = await submit(repairs, flow["flow_id"], username="u", password="p")
    assert (gone["type"], gone["reason"]) == ("abort", "doorbell_gone")

    # The hub's entry is unloaded while a form is open. The forgotten doorbell is offered again
    # when it next announces itself; approve it then.
    await wait_for(lambda: hub.doorbell(DOORBELL_ID))
    status, _ = await hub.api("POST", f"/doorbells/{DOORBELL_ID}/approve")
    assert status == 200
    await wait_for(lambda: issue(hass, entry.entry_id))
    flow = await start_fix(repairs, entry.entry_id)
    assert await hass.config_entries.async_unload(entry.entry_id)
    gone = await submit(repairs, flow["flow_id"], username="u", password="p")
    assert (gone["type"], gone["reason"]) == ("abort", "hub_not_loaded")
