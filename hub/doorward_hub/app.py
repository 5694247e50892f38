"""The composition root: builds every part of the hub, starts them in order and stops them in
reverse. What started is stopped, nothing else; a failing stop does not keep the rest open."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import threading
from contextlib import AsyncExitStack

import aiohttp
from aiohttp import WSCloseCode, web
from zeroconf import InterfaceChoice
from zeroconf.asyncio import AsyncZeroconf

from doorward_hub import __version__
from doorward_hub.audit.log import AuditLog
from doorward_hub.auth.pairing import Pairing
from doorward_hub.auth.tokens import TokenRegistry
from doorward_hub.config import HubConfig
from doorward_hub.core.files import make_private, private_folder
from doorward_hub.core.logs import LoopErrorLog
from doorward_hub.core.memory import keep_returning_free_memory
from doorward_hub.devices.discovery import Discovery, advertise_hub, advertised_addresses
from doorward_hub.devices.doorbells import DoorbellManager
from doorward_hub.devices.drivers import create_drivers
from doorward_hub.devices.drivers.base import HubEndpoint
from doorward_hub.devices.snapshots import SnapshotStore
from doorward_hub.events.bus import EventBus
from doorward_hub.exports import identity_key
from doorward_hub.exports.recorded_clips import RecordedClips
from doorward_hub.neighborhood.items import Comment, NeighborPost
from doorward_hub.neighborhood.service import GroupStatus, NeighborhoodService
from doorward_hub.police.pending import PendingRequest
from doorward_hub.recording.library import ClipLibrary
from doorward_hub.recording.recorder import Recorder
from doorward_hub.storage.repositories import Repositories
from doorward_hub.web.api_v1.police import wire_request
from doorward_hub.web.keys import HubIdentity
from doorward_hub.web.server import create_app
from doorward_hub.wire import messages, objects

_LOGGER = logging.getLogger(__name__)

HUB_ID_KEY = "hub_id"
HOUSEKEEPING_INTERVAL = 60.0
SHUTDOWN_DEADLINE = 10.0
"""Seconds after SIGTERM by which the `serve` process has exited, whatever failed."""
KEEPALIVE_TIMEOUT = 15.0
"""Seconds a connection may sit idle — before its first request, between requests, or halfway
through a request's headers — before the hub closes it (aiohttp's default is an hour)."""


class Hub:
    """One Doorward hub. `await start()`, then `await stop()` (or `run_until_signalled()`)."""

    repositories: Repositories
    session: aiohttp.ClientSession
    bus: EventBus
    doorbells: DoorbellManager
    recorder: Recorder
    snapshots: SnapshotStore
    pairing: Pairing
    tokens: TokenRegistry
    audit: AuditLog
    neighborhood: NeighborhoodService
    web_app: web.Application
    hub_id: str
    port: int

    def __init__(self, config: HubConfig) -> None:
        """Prepare a hub; nothing runs until `start`."""
        self.config = config
        self._stack: AsyncExitStack | None = None

    async def start(self) -> None:
        """Open the database, serve the API, advertise, and start finding doorbells.

        If any step fails, what was already started is stopped again before the error propagates.
        """
        async with AsyncExitStack() as stack:
            await self._start(stack)
            self._stack = stack.pop_all()

    async def stop(self) -> None:
        """Shut down gracefully: every stored event stays stored, clients are told to resume."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
            _LOGGER.info("Hub stopped", extra={"hub_id": self.hub_id})

    async def _start(self, stack: AsyncExitStack) -> None:
        """Start each part and push its stop; `stack` unwinds them in reverse."""
        config = self.config
        private_folder(config.data_dir)
        fixed = await asyncio.to_thread(make_private, config.data_dir)
        if fixed:
            _LOGGER.warning(
                "Made the data folder private (folders 0700, files 0600)",
                extra={"changed": fixed, "data_dir": str(config.data_dir)},
            )
        self.repositories = repositories = await Repositories.open(config.data_dir / "hub.db")
        stack.push_async_callback(repositories.close)
        self.hub_id = await self._identity(repositories)

        self.session = aiohttp.ClientSession()
        stack.push_async_callback(self.session.close)
        endpoint = HubEndpoint(self.hub_id, config.host, config.notify_base_url)
        drivers = create_drivers(self.session, endpoint)
        self.snapshots = SnapshotStore(config.data_dir / "snapshots")
        self.bus = EventBus(repositories.events, config.press_merge_seconds)
        self.pairing = Pairing(
            repositories.pairing_codes, repositories.tokens, config.data_dir / "pairing-code"
        )
        self.tokens = TokenRegistry(repositories.tokens)
        await self.tokens.load()
        await self.pairing.refresh_console_code("hub started")
        self.doorbells = DoorbellManager(
            store=repositories.doorbells,
            events=repositories.events,
            settings=repositories.settings,
            bus=self.bus,
            snapshots=self.snapshots,
            drivers=drivers,
            hub_id=self.hub_id,
            hub_name=config.name,
            adoption=config.adoption,
        )
        library = ClipLibrary(
            repositories.clips,
            config.data_dir / "clips",
            config.recording,
            self.bus,
            self._retention_days,
        )
        self.recorder = Recorder(config.recording, library, self.doorbells)
        self.doorbells.add_listener(self.recorder)

        # The neighborhood: the hub's Matrix membership, its feed, and the export path by which
        # a person's share leaves the hub (nothing shares on its own).
        self.audit = await AuditLog.open(config.data_dir)
        self.neighborhood = NeighborhoodService(
            config.data_dir,
            hub_name=config.name,
            identity=await asyncio.to_thread(identity_key.load_or_create, config.data_dir),
            audit=self.audit,
            clips=RecordedClips(repositories.clips, library),
            received_retention_days=config.neighborhood.received_retention_days,
        )
        self._connect_neighborhood(library)
        await self.neighborhood.start()
        stack.push_async_callback(self.neighborhood.stop)

        # The web server goes last on the way down: doorbell links close first, so in-flight
        # events are stored and published, then clients are told to resume, then it closes.
        self.web_app = create_app(
            identity=HubIdentity(self.hub_id, config.name),
            repositories=repositories,
            doorbells=self.doorbells,
            bus=self.bus,
            snapshots=self.snapshots,
            recorder=self.recorder,
            pairing=self.pairing,
            tokens=self.tokens,
            session=self.session,
            neighborhood=self.neighborhood,
            audit=self.audit,
        )
        runner = web.AppRunner(
            self.web_app,
            handle_signals=False,
            shutdown_timeout=5,
            keepalive_timeout=KEEPALIVE_TIMEOUT,
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        stack.callback(self.bus.close_all, WSCloseCode.GOING_AWAY, "hub shutting down")
        await self.recorder.start()
        stack.push_async_callback(self.recorder.stop)  # finishes the clips being written
        stack.push_async_callback(self.doorbells.close)
        await self.doorbells.load()

        await web.TCPSite(runner, config.host, config.port).start()
        self.port = int(runner.addresses[0][1])
        endpoint.listening(self.port)

        zeroconf = AsyncZeroconf(interfaces=config.zeroconf_interfaces or InterfaceChoice.All)
        stack.push_async_callback(zeroconf.async_close)
        discovery = Discovery(zeroconf, drivers, self.doorbells.announced, self.doorbells.withdrawn)
        await discovery.start()
        stack.push_async_callback(discovery.stop)
        if config.advertise:
            self._advertise(stack, zeroconf)
        self._start_background_work(stack)
        _LOGGER.info(
            "Hub running",
            extra={"hub_id": self.hub_id, "port": self.port, "data_dir": str(config.data_dir)},
        )

    @staticmethod
    async def _identity(repositories: Repositories) -> str:
        """The hub's id, made once and kept."""
        hub_id = await repositories.settings.get_value(HUB_ID_KEY)
        if not hub_id:
            hub_id = "hub-" + secrets.token_hex(8)
            await repositories.settings.set_value(HUB_ID_KEY, hub_id)
        return hub_id

    def _advertise(self, stack: AsyncExitStack, zeroconf: AsyncZeroconf) -> None:
        """Advertise the hub over mDNS (in the background); on the way down, withdraw it (goodbye
        awaited) if it was registered."""
        service, announcing = advertise_hub(
            zeroconf,
            hub_id=self.hub_id,
            name=self.config.name,
            version=__version__,
            port=self.port,
            addresses=advertised_addresses(self.config.host, self.config.zeroconf_interfaces),
        )

        async def withdraw() -> None:
            await _cancel(announcing)
            if service in zeroconf.zeroconf.registry.async_get_service_infos():
                await (await zeroconf.async_unregister_service(service))

        stack.push_async_callback(withdraw)

    def _retention_days(self, doorbell_id: str) -> float | None:
        doorbell = self.doorbells.doorbells.get(doorbell_id)
        return None if doorbell is None else doorbell.retention_days

    def _start_background_work(self, stack: AsyncExitStack) -> None:
        """Housekeeping, and handing freed memory back to the system, until `stack` unwinds."""
        for work, name in (
            (self._keep_house(), "housekeeping"),
            (keep_returning_free_memory(), "free memory"),
        ):
            stack.push_async_callback(_cancel, asyncio.create_task(work, name=name))

    async def _keep_house(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            await self.pairing.refresh_if_expired()
            await self.neighborhood.enforce_retention()

    def _publish_neighbor_item(self, item: NeighborPost | Comment) -> None:
        """Push a neighbor's post or comment to the WebSocket clients (live only; the posts
        route lists what a client missed)."""
        if isinstance(item, NeighborPost):
            post = objects.NeighborPost.from_dict(item.to_json())
            self.bus.publish(messages.NeighborPostMessage(post).to_dict())
        else:
            comment = messages.NeighborCommentRef(
                event_id=item.event_id,
                post_event_id=item.post_event_id,
                sender=item.sender,
                sent_ms=item.sent_ms,
                body=item.body,
            )
            self.bus.publish(messages.NeighborCommentMessage(comment).to_dict())

    def _connect_neighborhood(self, library: ClipLibrary) -> None:
        """Push neighbors' posts and comments, the group status and new police requests to
        WebSocket clients; keep clips that a pending police request matches from retention."""
        self.neighborhood.subscribe(self._publish_neighbor_item)
        self.neighborhood.subscribe_status(self._publish_neighborhood_status)
        self.neighborhood.subscribe_police(self._publish_police_request)
        library.hold_while(self.neighborhood.held_clip_ids)

    async def _publish_police_request(self, item: PendingRequest) -> None:
        """Push a new pending police request to the WebSocket clients (Home Assistant)."""
        held = self.neighborhood.police.held_clip_ids()
        self.bus.publish(messages.PoliceRequestMessage(wire_request(item, held)).to_dict())

    def _publish_neighborhood_status(self, status: GroupStatus) -> None:
        """Push the neighborhood status when it changes (live only; the status route gives it
        after a reconnect)."""
        wire = objects.NeighborhoodStatus.from_dict(status.to_json())
        self.bus.publish(messages.NeighborhoodMessage(wire).to_dict())

    async def run_until_signalled(self, exit_deadline: float | None = None) -> None:
        """Start, run until SIGINT or SIGTERM, then stop.

        With `exit_deadline`, the process ends itself (exit status 70) that many seconds after
        the signal if it is still alive then: a supervisor restarts a hub, it cannot restart one
        stuck in a stop step or waiting for a worker thread at interpreter exit.
        """
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(LoopErrorLog())
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await self.start()
        try:
            await stopping.wait()
            if exit_deadline is not None:
                _exit_after(exit_deadline)
        finally:
            await self.stop()


def _exit_after(seconds: float) -> None:
    """End the process in `seconds` unless it has ended by then (a daemon thread's timer)."""

    def expire() -> None:
        _LOGGER.error("Hub did not stop in time; exiting", extra={"seconds": seconds})
        logging.shutdown()
        os._exit(70)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


async def _cancel(future: asyncio.Future[None]) -> None:
    """Cancel `future` unless it is done, and wait until it is."""
    if not future.done():
        future.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await future
