"""Discovery, pairing and events with a real hub and real simulated doorbells (in-process)."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from doorward_hub.app import Hub
from doorward_simulator.device import SimulatedDoorbell

from .conftest import LOOPBACK, hub_config, pair_client, wait_for

type DoorbellFactory = Callable[..., Awaitable[SimulatedDoorbell]]


@pytest.fixture
async def doorbell_factory() -> AsyncIterator[DoorbellFactory]:
    """Start simulated doorbells advertised on 127.0.0.1; all stop at the end."""
    started: list[SimulatedDoorbell] = []

    async def start(device_id: str, name: str = "Front door", port: int = 0) -> SimulatedDoorbell:
        doorbell = SimulatedDoorbell(device_id, name, LOOPBACK, port, interfaces=[LOOPBACK])
        await doorbell.start()
        started.append(doorbell)
        return doorbell

    yield start
    for doorbell in started:
        await doorbell.stop()


class Client:
    """A paired API client with a WebSocket feed."""

    def __init__(self, http: aiohttp.ClientSession, hub: Hub, token: str) -> None:
        self.http, self.hub, self.token = http, hub, token
        self.base = f"http://{LOOPBACK}:{hub.port}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.base}/{path}", headers=self.headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def events(self, doorbell_id: str) -> list[dict[str, Any]]:
        """The stored events of one doorbell (an empty list is falsy: `wait_for` waits on it)."""
        events: list[dict[str, Any]] = (await self.get(f"events?doorbell={doorbell_id}"))["events"]
        return events

    async def request(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        async with self.http.request(
            method, f"{self.base}/{path}", headers=self.headers, **kwargs
        ) as response:
            await response.read()
            return response

    async def doorbell(self, doorbell_id: str) -> dict[str, Any] | None:
        doorbells = (await self.get("doorbells"))["doorbells"]
        return next((d for d in doorbells if d["id"] == doorbell_id), None)

    async def wait_status(self, doorbell_id: str, status: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            doorbell = await self.doorbell(doorbell_id)
            return doorbell if doorbell and doorbell["status"] == status else None

        result: dict[str, Any] = await wait_for(check)
        return result

    async def connect(self, after: int = 0) -> aiohttp.ClientWebSocketResponse:
        self.ws = await self.http.ws_connect(f"{self.base}/ws?after={after}", headers=self.headers)
        return self.ws

    async def next_message(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while True:
                message: dict[str, Any] = await self.ws.receive_json()
                if message["type"] == kind:
                    return message


@pytest.fixture
async def client(hub: Hub, http: aiohttp.ClientSession) -> Client:
    token = await pair_client(http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code())
    return Client(http, hub, token)


async def test_discovers_pairs_and_pushes_a_press(
    client: Client, doorbell_factory: DoorbellFactory
) -> None:
    await client.connect()
    hello = await client.next_message("hello")
    assert hello["hub_id"] == client.hub.hub_id
    front = await doorbell_factory("sim-front", "Front door")
    online = await client.wait_status("sim-front", "online")
    assert online["name"] == "Front door"
    assert online["host"] == LOOPBACK
    assert online["port"] == front.port
    assert set(online["capabilities"]) >= {"press", "snapshot", "video"}
    assert front.paired

    await front.press()
    message = await client.next_message("event")
    event = message["event"]
    assert event["doorbell_id"] == "sim-front"
    assert event["type"] == "press"
    assert event["presses"] == 1
    assert isinstance(event["seq"], int)

    # The snapshot of that moment follows, and is a JPEG.
    snapshot = await client.next_message("snapshot")
    assert snapshot["seq"] == event["seq"]
    async with client.http.get(
        f"{client.base}/events/{event['seq']}/snapshot", headers=client.headers
    ) as response:
        assert response.status == 200
        assert response.content_type == "image/jpeg"
        assert (await response.read())[:2] == b"\xff\xd8"


async def test_motion_events_and_paging(client: Client, doorbell_factory: DoorbellFactory) -> None:
    side = await doorbell_factory("sim-side", "Side door")
    await client.wait_status("sim-side", "online")
    await side.motion(True)
    await side.motion(False)
    await side.press()

    async def three() -> list[dict[str, Any]] | None:
        events = (await client.get("events"))["events"]
        return events if len(events) == 3 else None

    events = await wait_for(three)
    assert [e["type"] for e in events] == ["motion_start", "motion_stop", "press"]
    first = await client.get("events?limit=1")
    assert first["more"] is True
    assert first["last_seq"] == events[-1]["seq"]
    rest = await client.get(f"events?after={first['events'][0]['seq']}&doorbell=sim-side")
    assert [e["seq"] for e in rest["events"]] == [e["seq"] for e in events[1:]]
    assert rest["more"] is False


async def test_repeated_presses_merge(client: Client, doorbell_factory: DoorbellFactory) -> None:
    front = await doorbell_factory("sim-merge")
    await client.wait_status("sim-merge", "online")
    await client.connect()
    for _ in range(3):
        await front.press()
    first = (await client.next_message("event"))["event"]

    async def merged() -> bool:
        events = (await client.get("events?doorbell=sim-merge"))["events"]
        return len(events) == 1 and events[0]["presses"] == 3

    await wait_for(merged)
    assert first["presses"] == 1
    with pytest.raises(TimeoutError):
        await client.next_message("event", timeout=0.5)


async def test_privacy_mode_takes_no_snapshot(
    client: Client, doorbell_factory: DoorbellFactory
) -> None:
    front = await doorbell_factory("sim-private")
    await client.wait_status("sim-private", "online")
    response = await client.request("PATCH", "doorbells/sim-private", json={"privacy_mode": True})
    assert response.status == 200
    await client.connect()
    await front.press()
    event = (await client.next_message("event"))["event"]
    with pytest.raises(TimeoutError):
        await client.next_message("snapshot", timeout=1.0)
    response = await client.request("GET", f"events/{event['seq']}/snapshot")
    assert response.status == 404
    assert (await client.doorbell("sim-private") or {})["privacy_mode"] is True


async def test_patch_validates_its_body(client: Client, doorbell_factory: DoorbellFactory) -> None:
    await doorbell_factory("sim-patch")
    await client.wait_status("sim-patch", "online")
    async with client.http.patch(
        f"{client.base}/doorbells/sim-patch", headers=client.headers, json={"privacy_mode": "yes"}
    ) as response:
        assert response.status == 400
        assert "privacy_mode" in (await response.json())["message"]
    async with client.http.patch(
        f"{client.base}/doorbells/sim-patch", headers=client.headers, json={"colour": "red"}
    ) as response:
        assert response.status == 400
        assert "colour" in (await response.json())["message"]


async def test_live_snapshot_and_video_are_relayed(
    client: Client, doorbell_factory: DoorbellFactory
) -> None:
    await doorbell_factory("sim-media")
    await client.wait_status("sim-media", "online")
    async with client.http.get(
        f"{client.base}/doorbells/sim-media/snapshot", headers=client.headers
    ) as response:
        assert response.status == 200
        assert (await response.read())[:2] == b"\xff\xd8"
    async with client.http.get(
        f"{client.base}/doorbells/sim-media/video?token={client.token}"
    ) as response:
        assert response.status == 200
        assert response.content_type == "video/mp2t"
        assert float(response.headers["X-Doorward-Epoch"]) > 0
        chunk = await response.content.readexactly(188 * 4)
    assert chunk[0] == 0x47, "MPEG-TS packets start with the sync byte"


async def test_privacy_mode_refuses_the_live_picture_and_cuts_the_live_video(
    client: Client, doorbell_factory: DoorbellFactory
) -> None:
    """Privacy mode means no snapshots and no video for any API client, not only in Home
    Assistant's UI: 409 with the reason, and a relay already open stops."""
    await doorbell_factory("sim-veil")
    await client.wait_status("sim-veil", "online")
    async with client.http.get(
        f"{client.base}/doorbells/sim-veil/video", headers=client.headers
    ) as relay:
        assert relay.status == 200
        await relay.content.readexactly(188 * 4)
        response = await client.request("PATCH", "doorbells/sim-veil", json={"privacy_mode": True})
        assert response.status == 200
        async with asyncio.timeout(10):
            while await relay.content.read(65536):
                pass  # the relay ends: what the device sent before the switch drains, no more
    for path in ("snapshot", "video"):
        response = await client.request("GET", f"doorbells/sim-veil/{path}")
        assert response.status == 409, path
        body = await response.json()
        assert body["error"] == "doorbell_unavailable"
        assert "privacy mode" in body["message"]
    # Switched off again, the live picture is back.
    await client.request("PATCH", "doorbells/sim-veil", json={"privacy_mode": False})
    async with client.http.get(
        f"{client.base}/doorbells/sim-veil/snapshot", headers=client.headers
    ) as response:
        assert response.status == 200
        assert (await response.read())[:2] == b"\xff\xd8"


async def test_garbage_from_a_doorbell_marks_it_and_the_hub_stays_up(
    client: Client, doorbell_factory: DoorbellFactory
) -> None:
    bad = await doorbell_factory("sim-bad", "Bad door")
    good = await doorbell_factory("sim-good", "Good door")
    await client.wait_status("sim-bad", "online")
    await client.wait_status("sim-good", "online")
    bad.misbehave("garbage")
    await bad.press()
    broken = await client.wait_status("sim-bad", "error")
    assert "malformed" in broken["error"]

    # The hub still serves and still hears the other doorbell.
    await client.connect()
    await good.press()
    assert (await client.next_message("event"))["event"]["doorbell_id"] == "sim-good"

    # Once the device behaves again, the hub reconnects by itself.
    bad.misbehave("none")
    await client.wait_status("sim-bad", "online")


async def test_follows_a_doorbell_to_a_new_address(
    client: Client, doorbell_factory: DoorbellFactory
) -> None:
    first = await doorbell_factory("sim-moving")
    await client.wait_status("sim-moving", "online")
    old_port = first.port
    await first.stop()
    await client.wait_status("sim-moving", "offline")

    # Same device, new address; being a new boot it is unpaired, so the hub pairs again.
    moved = await doorbell_factory("sim-moving")
    assert moved.port != old_port

    async def at_new_port() -> bool:
        doorbell = await client.doorbell("sim-moving")
        return bool(doorbell and doorbell["port"] == moved.port and doorbell["online"])

    await wait_for(at_new_port)
    await client.connect()
    await moved.press()
    assert (await client.next_message("event"))["event"]["doorbell_id"] == "sim-moving"


async def test_a_doorbell_paired_elsewhere_is_an_error_not_a_crash(
    client: Client, doorbell_factory: DoorbellFactory, http: aiohttp.ClientSession
) -> None:
    taken = await doorbell_factory("sim-taken")
    await client.wait_status("sim-taken", "online")
    # The owner opens the pairing window and another hub takes the doorbell over.
    taken.open_pairing_window()
    async with http.post(
        f"{taken.url}/doorward/v1/pair", json={"hub_id": "hub-other", "hub_name": "Other"}
    ) as response:
        assert response.status == 200
    state = await client.wait_status("sim-taken", "error")
    assert "paired to another hub" in state["error"]


async def test_approval_mode_waits_for_the_owner(
    tmp_path: Path, http: aiohttp.ClientSession, doorbell_factory: DoorbellFactory
) -> None:
    hub = Hub(hub_config(tmp_path / "hub", adoption="approve"))
    await hub.start()
    try:
        client = Client(
            http,
            hub,
            await pair_client(http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code()),
        )
        door = await doorbell_factory("sim-approve")
        await client.wait_status("sim-approve", "pending_approval")
        assert not door.paired
        response = await client.request("POST", "doorbells/sim-approve/approve")
        assert response.status == 200
        await client.wait_status("sim-approve", "online")
        assert door.paired
    finally:
        await hub.stop()


async def test_forgetting_a_doorbell_removes_it_and_offers_it_again(
    client: Client, doorbell_factory: DoorbellFactory
) -> None:
    await doorbell_factory("sim-forget")
    await client.wait_status("sim-forget", "online")
    await client.connect()
    response = await client.request("DELETE", "doorbells/sim-forget")
    assert response.status == 204
    removed = await client.next_message("doorbell_removed")
    assert removed["doorbell_id"] == "sim-forget"
    # Still on the LAN: offered again, but never re-adopted without the owner.
    offered = await client.wait_status("sim-forget", "pending_approval")
    assert offered["online"] is False


async def test_hub_restart_keeps_doorbells_and_events(
    tmp_path: Path, http: aiohttp.ClientSession, doorbell_factory: DoorbellFactory
) -> None:
    config = hub_config(tmp_path / "hub")
    hub = Hub(config)
    await hub.start()
    token = await pair_client(http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code())
    door = await doorbell_factory("sim-restart")
    client = Client(http, hub, token)
    await client.wait_status("sim-restart", "online")
    await door.press()
    await wait_for(lambda: client.events("sim-restart"))  # stored before the hub stops
    await hub.stop()

    hub = Hub(config)
    await hub.start()
    try:
        client = Client(http, hub, token)  # the token survives the restart
        await client.wait_status("sim-restart", "online")
        events = (await client.get("events"))["events"]
        assert [e["doorbell_id"] for e in events] == ["sim-restart"]
    finally:
        await hub.stop()


_NETWORK: list[tuple[str, tuple[Any, ...]]] | None = None
# What the hub may do on the network: connect to and send to addresses, resolve names.
_WATCHED = {
    "socket.connect",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyname_ex",
    "socket.gethostbyaddr",
    "socket.getnameinfo",
}
MDNS_GROUPS = {"224.0.0.251", "ff02::fb"}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _NETWORK is not None and event in _WATCHED:
        _NETWORK.append((event, args))


def _is_ip_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return True


async def test_the_hub_talks_only_to_what_it_found(
    tmp_path: Path, http: aiohttp.ClientSession, doorbell_factory: DoorbellFactory
) -> None:
    """Privacy invariant 1: nothing leaves the LAN. From before the hub starts until it has
    stopped, every TCP connection goes to the doorbell it found (or is this test's own call to
    the hub), every datagram to the doorbell or the mDNS group, and no name is looked up in DNS."""
    global _NETWORK  # noqa: PLW0603 - audit hooks cannot be removed; this switches ours on
    sys.addaudithook(_audit)
    _NETWORK = []
    try:
        hub = Hub(hub_config(tmp_path / "hub"))
        await hub.start()
        try:
            token = await pair_client(
                http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code()
            )
            client = Client(http, hub, token)
            door = await doorbell_factory("sim-audit")
            await client.wait_status("sim-audit", "online")
            await client.connect()
            await door.press()
            await client.next_message("snapshot")
            response = await client.request("GET", "doorbells/sim-audit/snapshot")
            assert response.status == 200
        finally:
            await hub.stop()
        seen, _NETWORK = _NETWORK, None
    finally:
        _NETWORK = None
    connects = {args[1] for event, args in seen if event == "socket.connect"}
    connects = {(host, port) for host, port, *_ in connects if isinstance(host, str)}
    assert (LOOPBACK, door.port) in connects, "the hub must have connected to the doorbell"
    assert connects <= {(LOOPBACK, door.port), (LOOPBACK, hub.port)}, connects
    datagrams = {
        (args[1][0], args[1][1])
        for event, args in seen
        if event in {"socket.sendto", "socket.sendmsg"} and isinstance(args[1], tuple)
    }
    assert datagrams, "mDNS datagrams are seen: the hook covers sendto"
    assert {host for host, _ in datagrams} <= {LOOPBACK, *MDNS_GROUPS}, datagrams
    assert all(port == 5353 for host, port in datagrams if host in MDNS_GROUPS), datagrams
    lookups = [
        args[0]
        for event, args in seen
        if event not in {"socket.connect", "socket.sendto", "socket.sendmsg"}
    ]
    names = {
        host
        for host in lookups
        if not (host is None or isinstance(host, tuple) or _is_ip_literal(host))
    }
    assert not names, f"names were resolved: {names}"


async def test_press_during_a_device_reboot_is_not_lost(
    client: Client, doorbell_factory: DoorbellFactory
) -> None:
    door = await doorbell_factory("sim-reboot")
    await client.wait_status("sim-reboot", "online")
    await door.press()
    await wait_for(lambda: client.events("sim-reboot"))  # stored before the reboot
    old_boot = door.boot
    await door.stop()
    await client.wait_status("sim-reboot", "offline")
    await door.start()  # a reboot: same pairing, new boot id, seq from 1
    assert door.boot != old_boot
    await door.motion(True)  # most likely before the hub is back: the device keeps it

    async def two() -> list[str] | None:
        events = (await client.get("events?doorbell=sim-reboot"))["events"]
        return [e["type"] for e in events] if len(events) == 2 else None

    assert await wait_for(two) == ["press", "motion_start"]
    await asyncio.sleep(0.5)
    assert len((await client.get("events?doorbell=sim-reboot"))["events"]) == 2
