"""`doorward-hub agency serve`: the agency role hub as a long-running service.

Three things run until SIGINT/SIGTERM: the group sync (answers arrive, answer rooms are
joined, the group bot's take-downs are noted), evidence retention on a timer, and the agency
API for the agency's officers (`web/agency_api`). A homeserver outage only pauses the sync
(capped back-off); nothing a member hub sends can end the service.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

from ..audit.log import AuditLog
from ..core.backoff import Backoff
from ..core.tasks import TaskSet
from ..web.agency_api.app import create_root_app
from ..web.agency_api.keys import AGENCY_HUB, STAFF
from ..web.keys import AUDIT
from .agency import AgencyHub
from .evidence import EvidenceStore
from .layout import agency_folder, evidence_folder
from .staff import StaffTokens

_LOGGER = logging.getLogger(__name__)

DEFAULT_AGENCY_PORT: Final = 8471
SYNC_TIMEOUT_MS: Final = 30_000
RETENTION_INTERVAL_S: Final = 60.0


@dataclass(frozen=True)
class ServiceOptions:
    """Where the agency API listens and how often retention runs."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_AGENCY_PORT
    retention_interval_s: float = RETENTION_INTERVAL_S
    sync_timeout_ms: int = SYNC_TIMEOUT_MS


class AgencyService:
    """The agency hub, its retention timer and its API. `await start()`, then `stop()`."""

    hub: AgencyHub
    port: int

    def __init__(
        self, data_dir: Path, options: ServiceOptions, clock: Callable[[], float] = time.time
    ) -> None:
        """Serve the agency hub kept in `data_dir` (joined with `agency join`)."""
        self.data_dir = data_dir
        self.options = options
        self._clock = clock
        self._stack: AsyncExitStack | None = None
        self._tasks = TaskSet()
        self.synced = asyncio.Event()
        """Set after each successful sync (tests wait on it)."""

    async def start(self) -> None:
        """Restore the hub, start the sync and retention, then serve the API."""
        async with AsyncExitStack() as stack:
            audit = await AuditLog.open(self.data_dir, self._clock)
            evidence = EvidenceStore(evidence_folder(self.data_dir), audit, self._clock)
            self.hub = AgencyHub.restore(agency_folder(self.data_dir), audit, evidence, self._clock)
            stack.push_async_callback(self.hub.close)
            app = create_root_app()
            app[AGENCY_HUB] = self.hub
            app[STAFF] = StaffTokens(agency_folder(self.data_dir))
            app[AUDIT] = audit
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            stack.push_async_callback(self._tasks.cancel)
            self._tasks.spawn(self._sync_forever(), name="agency sync")
            self._tasks.spawn(self._retention_forever(), name="evidence retention")
            await web.TCPSite(runner, self.options.host, self.options.port).start()
            self.port = int(runner.addresses[0][1])
            _LOGGER.info(
                "Agency hub running",
                extra={"agency": str(self.hub.membership.client.user_id), "port": self.port},
            )
            self._stack = stack.pop_all()

    async def stop(self) -> None:
        """Stop serving, end the loops, close the Matrix client."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def run_until_signalled(
        self, started: Callable[[AgencyService], None] = lambda _: None
    ) -> None:
        """Start, tell `started`, run until SIGINT or SIGTERM, then stop."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await self.start()
        started(self)
        try:
            await stopping.wait()
        finally:
            await self.stop()

    async def _sync_forever(self) -> None:
        backoff = Backoff(1.0, 60.0)
        while True:
            try:
                await self.hub.sync_once(timeout_ms=self.options.sync_timeout_ms)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # an outage, or anything a peer's event provoked
                wait = backoff.next_wait()
                _LOGGER.warning("agency sync failed (%r); retrying in %.0f s", err, wait)
                await asyncio.sleep(wait)
                continue
            backoff.reset()
            self.synced.set()

    async def _retention_forever(self) -> None:
        while True:
            try:
                ended = await self.hub.evidence.enforce_retention()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("evidence retention failed; trying again later")
            else:
                if ended:
                    _LOGGER.info("Deleted evidence at its retention end", extra={"ids": ended})
            await asyncio.sleep(self.options.retention_interval_s)
