"""DoorBird doorbells through the hub: a real hub and an emulated DoorBird on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from doorward_hub.config import RecordingConfig
from doorward_hub.drivers.doorbird import driver as doorbird
from doorward_hub.drivers.base import HubEndpoint
from doorward_hub.hub import Hub

from .conftest import LOOPBACK, hub_config, pair_client, wait_for
from .doorbird_emulator import SERVICE_TYPE, DoorBirdEmulator

DOORBELL_ID = "doorbird-1ccae3aabbcc"

type EmulatorFactory = Callable[..., Awaitable[DoorBirdEmulator]]


@pytest.fixture
async def emulators() -> AsyncIterator[EmulatorFactory]:
    """Start emulated DoorBirds (advertised on 127.0.0.1); all stop at the end."""
    started: list[DoorBirdEmulator] = []

    async def start(*args: Any, **kwargs: Any) -> DoorBirdEmulator:
        emulator = DoorBirdEmulator(*args, **kwargs)
        started.append(emulator)
        await emulator.start()
        return emulator

    yield start
    for emulator in started:
        await emulator.stop()


@pytest.fixture
async def recording_hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """A hub that records short clips."""
    recording = RecordingConfig(pre_roll_seconds=1.0, post_roll_seconds=1.0)
    hub = Hub(hub_config(tmp_path / "hub", recording=recording))
    await hub.start()
    yield hub
    await hub.stop()


class Api:
    """A paired client of the hub, with its WebSocket feed."""

    def __init__(self, http: aiohttp.ClientSession, hub: Hub, token: str) -> None:
        self.http, self.hub = http, hub
        self.base = f"http://{LOOPBACK}:{hub.port}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(
            method, f"{self.base}/{path}", headers=self.headers, **kwargs
        ) as response:
            body = await response.read()
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, body

    async def doorbell(self, doorbell_id: str = DOORBELL_ID) -> dict[str, Any] | None:
        status, body = await self.call("GET", "doorbells")
        assert status == 200
        return next((d for d in body["doorbells"] if d["id"] == doorbell_id), None)

    async def wait_state(self, status: str, error: str | None = None) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            doorbell = await self.doorbell()
            if doorbell and doorbell["status"] == status and doorbell["error"] == error:
                return doorbell
            return None

        found: dict[str, Any] = await wait_for(check)
        return found

    async def next_message(self, kind: str) -> dict[str, Any]:
        assert self.ws is not None
        async with asyncio.timeout(10):
            while True:
                message: dict[str, Any] = await self.ws.receive_json()
                if message["type"] == kind:
                    return message


async def _api(hub: Hub, http: aiohttp.ClientSession) -> Api:
    token = await pair_client(http, f"http://{LOOPBACK}:{hub.port}", await hub.pairing.new_code())
    api = Api(http, hub, token)
    api.ws = await http.ws_connect(f"{api.base}/ws", headers=api.headers)
    return api


async def test_doorbird_end_to_end(
    recording_hub: Hub,
    http: aiohttp.ClientSession,
    emulators: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doorbird, "CHECK_INTERVAL", 0.2)
    api = await _api(recording_hub, http)
    await emulators("00408C112233", name="AXIS M3045")  # an Axis camera, not a DoorBird
    device = await emulators()

    # Found, adopted, and waiting for the owner's credentials.
    waiting = await api.wait_state("error", "credentials needed")
    assert waiting["driver"] == "doorbird"
    assert waiting["name"] == "DoorBird D2101V - 1CCAE3AABBCC"
    assert set(waiting["capabilities"]) == {"press", "motion", "snapshot", "video"}
    status, _ = await api.call("GET", f"doorbells/{DOORBELL_ID}/snapshot")
    assert status == 409

    # Wrong credentials: a clear state, nothing registered.
    status, _ = await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": "wrong"},
    )
    assert status == 202
    await api.wait_state("error", "credentials rejected")
    assert device.unauthorized >= 1
    prefix = f"Doorward {recording_hub.hub_id} "
    assert device.favorites_titled(prefix) == {}

    # The right ones: online, notifications registered on the device.
    status, _ = await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": device.password},
    )
    assert status == 202
    await api.wait_state("online")
    ours = device.favorites_titled(prefix)
    urls = {fav["title"].removeprefix(prefix): fav["value"] for fav in ours.values()}
    notify_base = f"http://{LOOPBACK}:{recording_hub.port}/api/v1/notify/doorbird/{DOORBELL_ID}/"
    assert set(urls) == {"press-1", "motion"}
    assert all(url.startswith(notify_base) for url in urls.values())
    by_title = {fav["title"]: fav_id for fav_id, fav in ours.items()}
    assert by_title[prefix + "press-1"] in device.http_outputs("doorbell")
    assert by_title[prefix + "motion"] in device.http_outputs("motion")
    assert device.favorites["http"]["0"]["title"] == "Other system"  # left alone
    assert device.schedule[0]["output"][0]["event"] == "notify"
    _, listed = await api.call("GET", "doorbells")
    assert [d["id"] for d in listed["doorbells"]] == [DOORBELL_ID]  # not the Axis camera

    # A press (sent twice, as DoorBirds do) becomes one event, with its snapshot.
    assert await device.press(repeats=2) == [204, 204]
    event = (await api.next_message("event"))["event"]
    assert (event["doorbell_id"], event["type"]) == (DOORBELL_ID, "press")
    assert (await api.next_message("snapshot"))["seq"] == event["seq"]
    assert await device.motion(repeats=3) == [204, 204, 204]
    motion = (await api.next_message("event"))["event"]
    assert motion["type"] == "motion_start"
    status, page = await api.call("GET", f"events?doorbell={DOORBELL_ID}")
    assert [(e["type"], e["presses"]) for e in page["events"]] == [
        ("press", 1),
        ("motion_start", 1),
    ]
    status, jpeg = await api.call("GET", f"doorbells/{DOORBELL_ID}/snapshot")
    assert status == 200
    assert jpeg[:2] == b"\xff\xd8"

    # The press recorded a clip from the MJPEG video.
    async def press_clip() -> dict[str, Any] | None:
        _, listed = await api.call("GET", f"clips?doorbell={DOORBELL_ID}&trigger=press")
        return listed["clips"][0] if listed["clips"] else None

    clip = await wait_for(press_clip, timeout=30)
    assert clip["trigger_seq"] == event["seq"]
    status, mp4 = await api.call("GET", f"clips/{clip['id']}/video")
    assert status == 200
    assert mp4[4:8] == b"ftyp"

    # Forged notifications are refused and store nothing.
    secret_url = urls["press-1"]
    forged = secret_url.rsplit("/", 2)[0] + "/not-the-secret/press"
    async with http.get(forged) as response:
        assert response.status == 401
    unknown = secret_url.replace(DOORBELL_ID, "doorbird-1ccae3000000")
    async with http.get(unknown) as response:
        assert response.status == 404
    async with http.get(secret_url.replace("/press-1", "/explode")) as response:
        assert response.status == 401
    async with http.get(f"{api.base}/notify/doorbird/{DOORBELL_ID}") as response:
        assert response.status == 401  # the public rule covers the notify route, not its prefix
    status, after = await api.call("GET", f"events?doorbell={DOORBELL_ID}")
    assert [e["seq"] for e in after["events"]] == [e["seq"] for e in page["events"]]

    # The device lost the registration (a reset, another app): the hub puts it back.
    device.favorites["http"] = {"0": device.favorites["http"]["0"]}
    for entry in device.schedule:
        entry["output"] = [o for o in entry["output"] if o["event"] != "http"]
    await wait_for(lambda: len(device.http_outputs("doorbell")) == 1)
    await wait_for(lambda: len(device.favorites_titled(prefix)) == 2)

    # New credentials bring a new secret: the old favorites go, the new ones are called.
    status, _ = await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": device.password},
    )
    assert status == 202

    def renewed() -> bool:
        values = {fav["value"] for fav in device.favorites_titled(prefix).values()}
        return len(values) == 2 and not values & set(urls.values())

    await wait_for(renewed)
    await wait_for(lambda: set(device.http_outputs("doorbell")) <= set(device.favorites["http"]))
    await api.wait_state("online")
    assert len(device.http_outputs("doorbell")) == 1
    assert len(device.http_outputs("motion")) == 1
    assert await device.press() == [204]
    assert (await api.next_message("event"))["event"]["type"] == "press"

    # Removal cleans the device up.
    status, _ = await api.call("DELETE", f"doorbells/{DOORBELL_ID}")
    assert status == 204
    assert device.favorites_titled(prefix) == {}
    assert device.http_outputs("doorbell") == []
    assert device.http_outputs("motion") == []
    assert device.favorites["http"]["0"]["title"] == "Other system"
    assert device.schedule[0]["output"][0]["event"] == "notify"


async def test_doorbird_without_schedule_and_credential_errors(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """A D301-like device (404 on schedule.cgi) still comes online with snapshot and video."""
    api = await _api(hub, http)
    device = await emulators(has_schedule=False)
    await api.wait_state("error", "credentials needed")

    status, body = await api.call(
        "PUT", f"doorbells/{DOORBELL_ID}/credentials", json={"username": "x"}
    )
    assert (status, body["error"]) == (400, "invalid_request")
    status, body = await api.call(
        "PUT", "doorbells/doorbird-000000000000/credentials", json={"username": "x", "password": ""}
    )
    assert (status, body["error"]) == (404, "unknown_doorbell")
    async with http.put(
        f"{api.base}/doorbells/{DOORBELL_ID}/credentials", json={"username": "x", "password": "y"}
    ) as response:
        assert response.status == 401  # token needed

    status, _ = await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": device.password},
    )
    assert status == 202
    await api.wait_state("online")
    status, jpeg = await api.call("GET", f"doorbells/{DOORBELL_ID}/snapshot")
    assert (status, jpeg[:2]) == (200, b"\xff\xd8")

    # The relayed live video is the device's MJPEG, boundary included.
    async with http.get(
        f"{api.base}/doorbells/{DOORBELL_ID}/video", headers=api.headers
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace; boundary=")
        first = await response.content.readuntil(b"\xff\xd8")
        assert first.startswith(b"--doorbirdframe")

    # The owner changes the password on the device: the hub says so and does not crash.
    device.password = "changed"
    status, _ = await api.call("GET", f"doorbells/{DOORBELL_ID}/snapshot")
    assert status == 409
    status, _ = await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": "stale"},
    )
    assert status == 202
    await api.wait_state("error", "credentials rejected")
    status, _ = await api.call("DELETE", f"doorbells/{DOORBELL_ID}")
    assert status == 204  # the device refuses the clean-up; the hub forgets it anyway


async def test_announcements_of_doorbirds_and_other_axis_devices() -> None:
    """Only `_axis-video._tcp` services with a DoorBird MAC are offered, as `doorbird-<mac>`."""
    doorbird_device = DoorBirdEmulator("1ccae3ddeeff")
    camera = DoorBirdEmulator("00408C112233", name="AXIS M3045")
    await doorbird_device.start()
    await camera.start()
    zeroconf = AsyncZeroconf(interfaces=[LOOPBACK])
    try:
        async with aiohttp.ClientSession() as session:
            driver = doorbird.DoorBirdDriver(session, HubEndpoint("hub-test", LOOPBACK))
            found = []
            for device in (doorbird_device, camera):
                info = AsyncServiceInfo(SERVICE_TYPE, f"{device.name}.{SERVICE_TYPE}")
                assert await info.async_request(zeroconf.zeroconf, 3000)
                found.append(driver.parse_announcement(info))
    finally:
        await zeroconf.async_close()
        await camera.stop()
        await doorbird_device.stop()
    announcement, ignored = found
    assert ignored is None
    assert announcement is not None
    assert announcement.device_id == "doorbird-1ccae3ddeeff"
    assert (announcement.host, announcement.port) == (LOOPBACK, doorbird_device.port)
    assert announcement.driver == "doorbird"


async def test_notification_url_uses_the_address_the_device_sees() -> None:
    endpoint = HubEndpoint("hub-test", "0.0.0.0")
    endpoint.listening(8470)
    url = await endpoint.notify_url(LOOPBACK, "doorbird", "doorbird-1ccae3aabbcc", "s3", "press")
    assert url == "http://127.0.0.1:8470/api/v1/notify/doorbird/doorbird-1ccae3aabbcc/s3/press"
    pinned = HubEndpoint("hub-test", "127.0.0.2")
    pinned.listening(1234)
    assert (await pinned.notify_url(LOOPBACK, "doorbird", "x", "s", "motion")).startswith(
        "http://127.0.0.2:1234/"
    )
