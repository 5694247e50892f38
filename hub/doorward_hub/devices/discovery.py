"""mDNS: find doorbells of every driver's service type, and advertise the hub itself."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping

import ifaddr
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from doorward_hub.core.tasks import TaskSet
from doorward_hub.devices.drivers.base import Announcement, DoorbellDriver
from doorward_hub.protocol import (
    API_VERSION,
    HUB_SERVICE_TYPE,
    TXT_API,
    TXT_HUB_ID,
    TXT_NAME,
    TXT_VERSION,
)

_LOGGER = logging.getLogger(__name__)

RESOLVE_TIMEOUT_MS = 3000


class Discovery:
    """Browses for doorbells and reports what it resolves to the doorbell manager."""

    def __init__(
        self,
        zeroconf: AsyncZeroconf,
        drivers: Mapping[str, DoorbellDriver],
        on_announced: Callable[[Announcement], Awaitable[None]],
        on_withdrawn: Callable[[str], None],
    ) -> None:
        """Report resolved doorbells to `on_announced`, vanished device ids to `on_withdrawn`."""
        self._zeroconf = zeroconf
        self._by_type = {driver.service_type: driver for driver in drivers.values()}
        self._on_announced = on_announced
        self._on_withdrawn = on_withdrawn
        self._browser: AsyncServiceBrowser | None = None
        self._device_of: dict[str, str] = {}
        self._resolving = TaskSet()

    async def start(self) -> None:
        """Start browsing."""
        self._browser = AsyncServiceBrowser(
            self._zeroconf.zeroconf, list(self._by_type), handlers=[self._on_change]
        )

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            device_id = self._device_of.pop(name, None)
            if device_id is not None:
                self._on_withdrawn(device_id)
            return
        self._resolving.spawn(self._resolve(service_type, name))

    async def _resolve(self, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zeroconf.zeroconf, RESOLVE_TIMEOUT_MS):
            _LOGGER.debug("Could not resolve an mDNS service", extra={"service": name})
            return
        driver = self._by_type[service_type]
        try:
            announcement = driver.parse_announcement(info)
        except (ValueError, UnicodeError) as err:
            announcement = None
            _LOGGER.warning("Unreadable announcement", extra={"service": name, "reason": str(err)})
        if announcement is None:
            _LOGGER.debug("Ignoring an mDNS service", extra={"service": name})
            return
        if not await driver.confirm(announcement):
            _LOGGER.info(
                "Ignoring a device that is not a doorbell",
                extra={"service": name, "device_id": announcement.device_id},
            )
            return
        self._device_of[name] = announcement.device_id
        try:
            await self._on_announced(announcement)
        except Exception:
            _LOGGER.exception("Handling an announcement failed", extra={"service": name})

    async def stop(self) -> None:
        """Stop browsing and drop pending resolutions."""
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        await self._resolving.cancel()


def advertised_addresses(host: str, interfaces: list[str] | None) -> list[str]:
    """The addresses to put in the hub's mDNS record."""
    if host not in ("0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
        return [host]
    if interfaces:
        return interfaces
    found = [
        ip.ip
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
    ]
    return found or ["127.0.0.1"]


def advertise_hub(
    zeroconf: AsyncZeroconf,
    *,
    hub_id: str,
    name: str,
    version: str,
    port: int,
    addresses: list[str],
) -> tuple[AsyncServiceInfo, asyncio.Task[None]]:
    """Register the hub's `_doorward._tcp.local.` service.

    Returns the service (for unregistering) and the task that probes for its name (about a second)
    and then announces it, so the hub serves while it is being probed; the caller cancels the task
    if it stops first. A failure to advertise is logged: clients can still be given the address.
    """
    info = AsyncServiceInfo(
        HUB_SERVICE_TYPE,
        f"{name} {hub_id[-6:]}.{HUB_SERVICE_TYPE}",
        addresses=[
            socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses
        ],
        port=port,
        properties={
            TXT_HUB_ID: hub_id,
            TXT_VERSION: version,
            TXT_API: str(API_VERSION),
            TXT_NAME: name,
        },
        server=f"{hub_id}.local.",
    )

    async def register() -> None:
        try:
            await (await zeroconf.async_register_service(info, allow_name_change=True))
        except Exception:
            _LOGGER.exception("cannot advertise the hub over mDNS")

    return info, asyncio.create_task(register(), name="advertise the hub")
