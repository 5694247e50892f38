"""mDNS: simulated doorbells are found by a separate zeroconf browser and say goodbye."""

from __future__ import annotations

import asyncio
import re

from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from doorward_simulator import SimulatedDoorbell, Simulator
from doorward_simulator.device import SERVICE_TYPE

from .conftest import LOOPBACK


class _Browser:
    """Watches `_doorward-bell._tcp` on loopback; resolves services to their TXT records."""

    def __init__(self) -> None:
        self.zeroconf = AsyncZeroconf(interfaces=[LOOPBACK])
        self._changes: asyncio.Queue[tuple[str, ServiceStateChange]] = asyncio.Queue()
        self._browser = AsyncServiceBrowser(
            self.zeroconf.zeroconf, SERVICE_TYPE, handlers=[self._on_change]
        )
        self.ids: dict[str, str] = {}  # service name -> TXT id, for the services seen added
        self._found: dict[str, AsyncServiceInfo] = {}  # TXT id -> resolved service

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        self._changes.put_nowait((name, state_change))

    async def added(self, device_id: str) -> AsyncServiceInfo:
        """Wait until the service with TXT `id` == `device_id` appears; returns it resolved.

        Other services (from tests running alongside) are skipped.
        """
        while device_id not in self._found:
            name, change = await asyncio.wait_for(self._changes.get(), 15)
            if change is ServiceStateChange.Added:
                info = AsyncServiceInfo(SERVICE_TYPE, name)
                assert await info.async_request(self.zeroconf.zeroconf, 3000)
                self.ids[name] = str(info.decoded_properties.get("id"))
                self._found[self.ids[name]] = info
        return self._found[device_id]

    async def removed(self, device_id: str) -> None:
        """Wait for the goodbye of the service with TXT `id` == `device_id`."""
        while device_id in self._found:
            name, change = await asyncio.wait_for(self._changes.get(), 15)
            if change is ServiceStateChange.Removed and name in self.ids:
                self._found.pop(self.ids[name], None)

    async def close(self) -> None:
        await self._browser.async_cancel()
        await self.zeroconf.async_close()


async def test_doorbell_is_advertised_and_says_goodbye(doorbell: SimulatedDoorbell) -> None:
    browser = _Browser()
    try:
        info = await browser.added(doorbell.device_id)
        assert info.decoded_properties == {
            "id": doorbell.device_id,
            "model": "Doorward Simulator",
            "proto": "1",
            "caps": "press,motion,snapshot,video",
            "name": "Front door",
        }
        assert info.port == doorbell.port
        assert info.parsed_addresses() == [LOOPBACK]
        assert info.name == doorbell.service_name
        assert info.name.startswith("Front door")
        await doorbell.stop()
        await browser.removed(doorbell.device_id)
    finally:
        await browser.close()


async def test_simulator_runs_doorbells_on_one_zeroconf() -> None:
    browser = _Browser()
    simulator = Simulator(3, LOOPBACK, [LOOPBACK], name_prefix="Porch")
    try:
        await simulator.start()
        doorbells = simulator.doorbells
        assert [d.name for d in doorbells] == ["Porch 1", "Porch 2", "Porch 3"]
        assert all(re.fullmatch(r"sim-[0-9a-f]{6}-[123]", d.device_id) for d in doorbells)
        assert len({d.device_id for d in doorbells}) == 3
        assert len({d.port for d in doorbells}) == 3
        for doorbell in doorbells:
            info = await browser.added(doorbell.device_id)
            assert info.port == doorbell.port
            assert info.decoded_properties["name"] == doorbell.name
        await simulator.stop()
        for doorbell in doorbells:
            await browser.removed(doorbell.device_id)
    finally:
        await simulator.stop()
        await browser.close()
