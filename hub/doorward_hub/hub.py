"""The hub: wires storage, discovery, doorbells, the event bus and the API, and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal

import aiohttp
from aiohttp import WSCloseCode, web
from zeroconf import InterfaceChoice
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from . import __version__
from .api import build_app
from .auth import Pairing, TokenRegistry
from .clips import ClipLibrary
from .config import HubConfig
from .discovery import Discovery, advertise_hub, advertised_addresses
from .doorbells import DoorbellManager
from .drivers import create_drivers
from .drivers.base import HubEndpoint
from .events import EventBus
from .recorder import Recorder
from .snapshots import SnapshotStore
from .store import Store

_LOGGER = logging.getLogger(__name__)

HUB_ID_KEY = "hub_id"
HOUSEKEEPING_INTERVAL = 60.0


class Hub:
    """One Doorward hub. `await start()`, then `await stop()` (or `run_until_signalled()`)."""

    store: Store
    session: aiohttp.ClientSession
    bus: EventBus
    doorbells: DoorbellManager
    recorder: Recorder
    snapshots: SnapshotStore
    pairing: Pairing
    tokens: TokenRegistry
    hub_id: str
    port: int

    def __init__(self, config: HubConfig) -> None:
        """Prepare a hub; nothing runs until `start`."""
        self.config = config
        self._runner: web.AppRunner | None = None
        self._zeroconf: AsyncZeroconf | None = None
        self._discovery: Discovery | None = None
        self._advertisement: AsyncServiceInfo | None = None
        self._announcing: asyncio.Future[None] | None = None
        self._housekeeping: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the database, serve the API, advertise, and start finding doorbells.

        If any step fails, what was already opened is closed again before the error propagates.
        """
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = await Store.open(config.data_dir / "hub.db")
        self.hub_id = await self.store.get_value(HUB_ID_KEY) or ""
        if not self.hub_id:
            self.hub_id = "hub-" + secrets.token_hex(8)
            await self.store.set_value(HUB_ID_KEY, self.hub_id)
        self.session = aiohttp.ClientSession()
        endpoint = HubEndpoint(self.hub_id, config.host, config.notify_base_url)
        drivers = create_drivers(self.session, endpoint)
        self.snapshots = SnapshotStore(config.data_dir / "snapshots")
        self.bus = EventBus(self.store, config.press_merge_seconds)
        self.pairing = Pairing(self.store, config.data_dir / "pairing-code")
        self.tokens = TokenRegistry(self.store)
        await self.tokens.load()
        await self.pairing.refresh_console_code("hub started")
        self.doorbells = DoorbellManager(
            store=self.store,
            bus=self.bus,
            snapshots=self.snapshots,
            drivers=drivers,
            hub_id=self.hub_id,
            hub_name=config.name,
            adoption=config.adoption,
        )
        library = ClipLibrary(
            self.store,
            config.data_dir / "clips",
            config.recording,
            self.bus,
            self._retention_days,
        )
        self.recorder = Recorder(config.recording, library, self.doorbells)
        self.doorbells.add_listener(self.recorder)
        await self.recorder.start()
        await self.doorbells.load()

        self._runner = web.AppRunner(build_app(self), handle_signals=False, shutdown_timeout=5)
        await self._runner.setup()
        await web.TCPSite(self._runner, config.host, config.port).start()
        self.port = int(self._runner.addresses[0][1])
        endpoint.listening(self.port)

        self._zeroconf = AsyncZeroconf(interfaces=config.zeroconf_interfaces or InterfaceChoice.All)
        self._discovery = Discovery(
            self._zeroconf, drivers, self.doorbells.announced, self.doorbells.withdrawn
        )
        await self._discovery.start()
        if config.advertise:
            self._advertisement, self._announcing = await advertise_hub(
                self._zeroconf,
                hub_id=self.hub_id,
                name=config.name,
                version=__version__,
                port=self.port,
                addresses=advertised_addresses(config.host, config.zeroconf_interfaces),
            )
        self._housekeeping = asyncio.create_task(self._keep_house())
        _LOGGER.info(
            "Hub running",
            extra={"hub_id": self.hub_id, "port": self.port, "data_dir": str(config.data_dir)},
        )

    def _retention_days(self, doorbell_id: str) -> float | None:
        doorbell = self.doorbells.doorbells.get(doorbell_id)
        return None if doorbell is None else doorbell.retention_days

    async def _keep_house(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            await self.pairing.refresh_if_expired()

    async def stop(self) -> None:
        """Shut down gracefully: every stored event stays stored, clients are told to resume."""
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        if self._discovery is not None:
            await self._discovery.stop()
        if self._zeroconf is not None:
            if self._announcing is not None and not self._announcing.done():
                self._announcing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._announcing
            if self._advertisement is not None:
                # Await the goodbye broadcast too, so nothing is left running after stop.
                await (await self._zeroconf.async_unregister_service(self._advertisement))
            await self._zeroconf.async_close()
        # Doorbell links first: in-flight events are stored and published before clients go.
        if hasattr(self, "doorbells"):
            await self.doorbells.close()
            if hasattr(self, "recorder"):
                await self.recorder.stop()  # finishes the clips being written
            self.bus.close_all(WSCloseCode.GOING_AWAY, "hub shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
        if hasattr(self, "session"):
            await self.session.close()
        if hasattr(self, "store"):
            await self.store.close()
            _LOGGER.info("Hub stopped", extra={"hub_id": self.hub_id})

    async def run_until_signalled(self) -> None:
        """Start, run until SIGINT or SIGTERM, then stop."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await self.start()
        try:
            await stopping.wait()
        finally:
            await self.stop()
