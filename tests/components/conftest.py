"""Fixtures for the Home Assistant integration tests.

Everything runs for real on loopback: a Doorward hub in this process, simulated doorbells that
the hub finds by mDNS on 127.0.0.1 and pairs automatically, and Home Assistant's test instance
talking to the hub over HTTP and WebSocket. Nothing of the hub's API is mocked.

pytest-homeassistant-custom-component blocks sockets (pytest-socket) and limits `connect()` to
127.0.0.1; the autouse `socket_enabled` below lets sockets be created again, the connect limit
stays. Hubs and doorbells are stopped by their fixtures, before `hass` goes, so that the
harness's `verify_cleanup` finds no lingering task or thread.
"""

import dataclasses
import functools
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_PORT, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.event import async_track_state_change_event

from custom_components.doorward.const import DOMAIN
from doorward_hub.app import Hub
from doorward_hub.config import HubConfig
from doorward_simulator import SimulatedDoorbell
from tests import support

LOOPBACK = support.LOOPBACK
free_port = support.free_port
PAIRING_CODE = "pairing_code"
# Doorbell ids of this run: mDNS on loopback is shared with other runs on the machine (unless
# the tests run in their own network namespace, `scripts/toolchain isolated`).
RUN = secrets.token_hex(3)
FRONT = f"sim-front-{RUN}"
BACK = f"sim-back-{RUN}"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load `custom_components/doorward` from this repository."""


@pytest.fixture(autouse=True)
def _allow_loopback_sockets(socket_enabled: None) -> None:
    """The hub, the doorbells and mDNS need real sockets (connect() stays loopback-only)."""


# The integration's tests give the hub and Home Assistant together a little longer.
wait_for = functools.partial(support.wait_for, timeout=20.0, interval=0.02)


def _join_sqlite_threads() -> None:
    """aiosqlite's worker thread ends just after `close()` returns; let it finish.

    Call it once every hub is stopped: a running hub's thread does not end.
    """
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(5)


class HubRunner:
    """A hub in this process that can be stopped and started again (same data, same port).

    `api()` calls the hub's REST API with a token of its own ("pytest"), as any client would.
    """

    def __init__(
        self, data_dir: Path, port: int, name: str = "Test hub", adoption: str = "auto"
    ) -> None:
        """Describe the hub; `start()` runs it."""
        self.config = HubConfig(
            data_dir=data_dir,
            name=name,
            host=LOOPBACK,
            port=port,
            zeroconf_interfaces=[LOOPBACK],
            adoption=adoption,
            # Every press its own event: the tests count them.
            press_merge_seconds=0.0,
        )
        self.hub: Hub | None = None
        self.hub_id = ""
        self._token: str | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def port(self) -> int:
        """The API port."""
        return self.config.port

    @property
    def url(self) -> str:
        """The API base URL."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self.hub is not None

    async def start(self, port: int | None = None) -> None:
        """Run the hub (on another port if given)."""
        if port is not None:
            self.config = dataclasses.replace(self.config, port=port)
        self.hub = Hub(self.config)
        await self.hub.start()
        self.hub_id = self.hub.hub_id

    async def stop(self) -> None:
        """Stop the hub gracefully (clients are told to resume later)."""
        if self.hub is not None:
            hub, self.hub = self.hub, None
            await hub.stop()

    async def close(self) -> None:
        """Stop the hub and close the test's HTTP session."""
        await self.stop()
        if self._session is not None:
            await self._session.close()

    async def new_code(self) -> str:
        """A fresh one-time pairing code."""
        assert self.hub is not None
        return await self.hub.pairing.new_code()

    async def token(self) -> str:
        """The test's own client token (paired as "pytest" on first use)."""
        if self._token is None:
            status, body = await self.api(
                "POST",
                "/pair",
                json={"code": await self.new_code(), "client_name": "pytest"},
                token="",
            )
            assert status == 200, body
            self._token = body["token"]
        return self._token

    async def api(
        self, method: str, path: str, *, json: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """Call `/api/v1<path>`; the status and the parsed JSON body (or None)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        if token is None:
            token = await self.token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self._session.request(
            method, f"{self.url}/api/v1{path}", json=json, headers=headers
        ) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body

    async def doorbell(self, doorbell_id: str) -> dict[str, Any] | None:
        """The hub's doorbell object, or None if it does not know the doorbell."""
        status, body = await self.api("GET", f"/doorbells/{doorbell_id}")
        return body if status == 200 else None

    async def wait_online(self, doorbell_id: str) -> None:
        """Wait until the hub has paired with the doorbell and is connected to it."""

        async def online() -> bool:
            doorbell = await self.doorbell(doorbell_id)
            return bool(doorbell and doorbell["online"])

        await wait_for(online, timeout=30)


@pytest.fixture
async def hub_factory(
    hass: HomeAssistant, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[HubRunner]]]:
    """Start hubs (each in its own data folder); all are stopped before `hass` is."""
    runners: list[HubRunner] = []

    async def start(
        name: str = "Test hub", port: int | None = None, adoption: str = "auto"
    ) -> HubRunner:
        runner = HubRunner(tmp_path / f"hub-{len(runners)}", port or free_port(), name, adoption)
        runners.append(runner)
        await runner.start()
        return runner

    yield start
    for runner in reversed(runners):
        await runner.close()
    _join_sqlite_threads()


@pytest.fixture
async def hub(hub_factory: Callable[..., Awaitable[HubRunner]]) -> HubRunner:
    """A running hub."""
    return await hub_factory()


@pytest.fixture
async def doorbell_factory(
    hass: HomeAssistant,
) -> AsyncIterator[Callable[..., Awaitable[SimulatedDoorbell]]]:
    """Start simulated doorbells on loopback; all are stopped before `hass` is."""
    doorbells: list[SimulatedDoorbell] = []

    async def start(device_id: str, name: str) -> SimulatedDoorbell:
        doorbell = SimulatedDoorbell(
            device_id=device_id,
            name=name,
            host=LOOPBACK,
            port=0,
            zeroconf=None,
            interfaces=[LOOPBACK],
        )
        await doorbell.start()
        doorbells.append(doorbell)
        return doorbell

    yield start
    for doorbell in reversed(doorbells):
        await doorbell.stop()


@pytest.fixture
async def doorbell(
    hub: HubRunner, doorbell_factory: Callable[..., Awaitable[SimulatedDoorbell]]
) -> SimulatedDoorbell:
    """The front door: a simulated doorbell the hub has paired with."""
    front = await doorbell_factory(FRONT, "Front door")
    await hub.wait_online(FRONT)
    return front


def track_events(hass: HomeAssistant, entity_id: str) -> list[tuple[str, int]]:
    """(event type, hub seq) of every time the event entity fires.

    Availability changes (to unavailable and back to the last event) are not events.
    """
    fired: list[tuple[str, int]] = []

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is None or new is None or old.state == new.state:
            return
        if STATE_UNAVAILABLE in (old.state, new.state):
            return
        fired.append((new.attributes["event_type"], new.attributes["seq"]))

    async_track_state_change_event(hass, [entity_id], changed)
    return fired


async def async_add_hub(
    hass: HomeAssistant, hub: HubRunner, port: int | None = None
) -> ConfigEntry:
    """Add the hub through the integration's real config flow (address, then code).

    `port`: where Home Assistant reaches the hub, if not at the hub's own port (a proxy).
    """
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: LOOPBACK, CONF_PORT: port or hub.port}
    )
    assert result["type"] is FlowResultType.FORM, result
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {PAIRING_CODE: await hub.new_code()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await wait_for(lambda: entry.runtime_data.connected)
    return entry


async def start_reauth(hass: HomeAssistant, entry: ConfigEntry) -> ConfigFlowResult:
    """Start the reauth flow of an entry, as Home Assistant does on ConfigEntryAuthFailed."""
    return await hass.config_entries.flow.async_init(
        DOMAIN,
        context={
            "source": SOURCE_REAUTH,
            "entry_id": entry.entry_id,
            "title_placeholders": {"name": entry.title},
            "unique_id": entry.unique_id,
        },
        data=entry.data,
    )


async def start_reconfigure(hass: HomeAssistant, entry: ConfigEntry) -> ConfigFlowResult:
    """Start the reconfigure flow of an entry (the UI's "Reconfigure")."""
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )


@pytest.fixture
async def config_entry(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell
) -> ConfigEntry:
    """The hub, with the front door, added to Home Assistant and connected."""
    return await async_add_hub(hass, hub)
