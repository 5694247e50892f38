"""DoorBird doorbells through the hub: a real hub and an emulated DoorBird on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from doorward_hub.app import Hub
from doorward_hub.config import ConfigError, RecordingConfig, validate
from doorward_hub.devices import doorbells
from doorward_hub.devices.drivers.base import HubEndpoint
from doorward_hub.devices.drivers.doorbird import driver as doorbird
from doorward_hub.devices.drivers.doorbird import notifications, registration

from .conftest import LOOPBACK, free_port, hub_config, pair_client, wait_for
from .doorbird_emulator import SERVICE_TYPE, WEEK, DoorBirdEmulator
from .openapi_contract import DocumentCheck

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
        self.contract = DocumentCheck()

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Call the API; every answer must be what the OpenAPI document says."""
        url = URL(f"{self.base}/{path}")
        async with self.http.request(method, url, headers=self.headers, **kwargs) as response:
            body = await response.read()
            self.contract.check(method, url, self.headers, response, body)
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

    # The device's notification, as the document describes it.
    async with http.get(urls["motion"]) as response:
        url = URL(urls["motion"])
        data = await response.read()
        api.contract.check("GET", url, {}, response, data)
    assert ("GET", "/notify/{driver}/{doorbell_id}/{secret}/{event}", 204) in api.contract.seen
    assert ("PUT", "/doorbells/{doorbell_id}/credentials", 202) in api.contract.seen

    # Forged notifications are refused and store nothing.
    secret_url = urls["press-1"]
    forged = secret_url.rsplit("/", 2)[0] + "/not-the-secret/press"
    async with http.get(forged) as response:
        assert response.status == 401
    # An unknown doorbell gets the same answer as a wrong secret: the route does not tell
    # which doorbells exist (issue 15, item 12).
    unknown = secret_url.replace(DOORBELL_ID, "doorbird-1ccae3000000")
    async with http.get(unknown) as response:
        assert response.status == 401
        assert await response.json() == {
            "error": "unauthorized",
            "message": "unknown notification URL",
        }
    async with http.head(secret_url) as response:
        assert response.status == 405  # only GET is routed; a HEAD records nothing (checked below)
        assert response.headers["Allow"] == "GET"
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


# Situations owners run into (issue 10). Each test sets one up on the emulated DoorBird.


async def _online(api: Api, device: DoorBirdEmulator) -> None:
    """Enter the device's credentials and wait until the doorbell is online."""
    await api.wait_state("error", "credentials needed")
    status, _ = await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": device.password},
    )
    assert status == 202
    await api.wait_state("online")


async def _stored_events(api: Api) -> list[tuple[str, str | None]]:
    _, page = await api.call("GET", f"events?doorbell={DOORBELL_ID}")
    return [(e["type"], e["button"]) for e in page["events"]]


async def test_presses_are_stored_whatever_the_link_state(
    hub: Hub,
    http: aiohttp.ClientSession,
    emulators: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A notification with the right secret becomes an event while the link is down."""
    monkeypatch.setattr(doorbird, "CHECK_INTERVAL", 0.2)
    api = await _api(hub, http)
    device = await emulators()
    await _online(api, device)

    # The owner changes the DoorBird user's password: the link fails, presses still count.
    device.password = "changed in the app"
    await api.wait_state("error", "credentials rejected")
    assert await device.press() == [204]
    assert (await api.next_message("event"))["event"]["type"] == "press"
    assert await _stored_events(api) == [("press", "1")]

    # Back to the right password, then one busy answer: the link is in back-off.
    device.password = "correct horse"
    await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": device.password},
    )
    await api.wait_state("online")
    device.busy = True
    await api.wait_state("error", "malformed message from device: info.cgi answered HTTP 503")
    await asyncio.sleep(notifications.PRESS_REPEAT_SECONDS)  # not a repeat of the first press
    assert await device.press(repeats=2) == [204, 204]
    assert await device.motion() == [204]
    _, page = await api.call("GET", f"events?doorbell={DOORBELL_ID}")
    presses = [e["presses"] for e in page["events"] if e["type"] == "press"]
    assert sum(presses) == 2  # the two presses, merged or not by the hub's merge window
    assert page["events"][-1]["type"] == "motion_start"


async def test_user_without_api_operator_permission_is_named(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """info.cgi takes the credentials, favorites.cgi does not: the permission is missing."""
    api = await _api(hub, http)
    device = await emulators(api_operator=False)
    await api.wait_state("error", "credentials needed")
    status, _ = await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": device.password},
    )
    assert status == 202
    doorbell = await api.wait_state("error", doorbird.PERMISSION_MISSING)
    assert "API-Operator" in doorbell["error"]
    assert device.favorites_titled("Doorward ") == {}


async def test_rejected_credentials_back_off_whatever_the_device_announces(
    hub: Hub,
    http: aiohttp.ClientSession,
    emulators: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doorbells, "REJECTED_BACKOFF_START", 1.0)
    api = await _api(hub, http)
    device = await emulators()
    await api.wait_state("error", "credentials needed")
    await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": "wrong"},
    )
    await api.wait_state("error", "credentials rejected")
    tried = device.unauthorized
    announcement = hub.doorbells._seen[DOORBELL_ID]
    for _ in range(20):  # mDNS re-announcements (a Wi-Fi DoorBird announces often)
        await hub.doorbells.announced(announcement)
        await asyncio.sleep(0.1)
    # 2 s: a retry after about 1 s, the next after about 2 s more; never one per announcement.
    assert device.unauthorized - tried <= 2
    # Snapshots and video do not knock on the device meanwhile either.
    before = len(device.requests)
    status, body = await api.call("GET", f"doorbells/{DOORBELL_ID}/snapshot")
    assert (status, body["message"]) == (409, "credentials rejected")
    assert len(device.requests) == before


async def test_lock_out_is_named_and_the_device_left_alone(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """After failed logins the DoorBird answers 423: the state says so, the hub waits."""
    api = await _api(hub, http)
    device = await emulators(lockout_after=1, lockout_seconds=600)
    await api.wait_state("error", "credentials needed")
    await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": "wrong"},
    )
    await api.wait_state("error", "credentials rejected")
    device.lock_out(600)

    # The owner enters the right password, but the device has locked the user out for now.
    await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": device.password},
    )

    async def locked() -> dict[str, Any] | None:
        doorbell = await api.doorbell()
        error = (doorbell or {}).get("error") or ""
        return doorbell if error.startswith("locked out:") else None

    doorbell = await wait_for(locked)
    assert doorbell["status"] == "error"
    assert "about 5 min" in doorbell["error"]  # no Retry-After: the hub assumes 5 minutes
    before = len(device.requests)
    await asyncio.sleep(1.5)
    status, _ = await api.call("GET", f"doorbells/{DOORBELL_ID}/video")
    assert status == 409
    assert len(device.requests) == before  # not one call while locked out


async def test_another_device_at_the_address_is_not_written_to(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """The MAC in info.cgi must be the announced one before anything is registered."""
    api = await _api(hub, http)
    device = await emulators(info_mac="1CCAE3DDEEFF")  # two DoorBirds swapped addresses
    schedule = [dict(entry) for entry in device.schedule]
    await api.wait_state("error", "credentials needed")
    await api.call(
        "PUT",
        f"doorbells/{DOORBELL_ID}/credentials",
        json={"username": device.username, "password": device.password},
    )

    async def offline() -> dict[str, Any] | None:
        doorbell = await api.doorbell()
        return doorbell if doorbell and "another device" in (doorbell["error"] or "") else None

    doorbell = await wait_for(offline)
    assert doorbell["status"] == "offline"
    assert "1CCAE3DDEEFF" in doorbell["error"]
    assert device.favorites_titled("Doorward ") == {}
    assert device.schedule == schedule
    status, _ = await api.call("DELETE", f"doorbells/{DOORBELL_ID}")
    assert status == 204
    assert device.favorites["http"]["0"]["title"] == "Other system"  # nothing removed either


async def test_accessories_are_not_listed_as_doorbells(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """An I/O controller on the same service type and MAC prefix is no doorbell."""
    api = await _api(hub, http)
    await emulators("1CCAE3A1081A", name="DoorBird A1081", accessory=True)
    await emulators()
    await api.wait_state("error", "credentials needed")
    await asyncio.sleep(1.0)  # both resolved by now
    _, listed = await api.call("GET", "doorbells")
    assert [d["id"] for d in listed["doorbells"]] == [DOORBELL_ID]


async def test_an_output_the_owner_disabled_is_enabled_again(
    hub: Hub,
    http: aiohttp.ClientSession,
    emulators: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doorbird, "CHECK_INTERVAL", 0.2)
    api = await _api(hub, http)
    device = await emulators()
    await _online(api, device)
    entry = next(e for e in device.schedule if e["input"] == "doorbell")
    ours = next(o for o in entry["output"] if o["event"] == "http")
    ours["enabled"] = "0"  # switched off in the DoorBird app
    assert await device.press() == []  # the device calls nothing now
    await wait_for(
        lambda: all(
            o.get("enabled", "1") == "1"
            for e in device.schedule
            for o in e["output"]
            if o["event"] == "http"
        )
    )
    assert await device.press() == [204]
    assert (await api.next_message("event"))["event"]["type"] == "press"


async def test_multi_button_station_events_carry_the_button(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """Each button has its favorite; presses of two buttons are two events, never merged."""
    api = await _api(hub, http)
    device = await emulators(buttons=("101", "102", "114"), device_type="DoorBird D2114V")
    await _online(api, device)
    prefix = f"Doorward {hub.hub_id} "
    titles = {fav["title"]: fav_id for fav_id, fav in device.favorites_titled(prefix).items()}
    assert set(titles) == {prefix + e for e in ("press-101", "press-102", "press-114", "motion")}
    for button in ("101", "102", "114"):
        assert device.http_outputs("doorbell", button) == [titles[f"{prefix}press-{button}"]]

    assert await device.press(repeats=2, button="101") == [204, 204]
    assert await device.press(button="102") == [204]  # a second visitor, within a second
    first = (await api.next_message("event"))["event"]
    second = (await api.next_message("event"))["event"]
    assert (first["button"], second["button"]) == ("101", "102")
    assert await _stored_events(api) == [("press", "101"), ("press", "102")]
    _, page = await api.call("GET", f"events?doorbell={DOORBELL_ID}")
    assert [e["presses"] for e in page["events"]] == [1, 1]


async def test_station_without_doorbell_entry_gets_its_buttons(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """No doorbell entry in the schedule: the inputs follow the model (D2103V: 101-103)."""
    api = await _api(hub, http)
    device = await emulators(
        buttons=("101", "102", "103"), doorbell_entries=False, device_type="DoorBird D2103V"
    )
    await _online(api, device)
    params = sorted(e["param"] for e in device.schedule if e["input"] == "doorbell")
    assert params == ["101", "102", "103"]
    assert await device.press(button="103") == [204]
    assert (await api.next_message("event"))["event"]["button"] == "103"


def test_default_doorbell_inputs_by_model() -> None:
    assert registration.default_buttons("DoorBird D2101V") == ["1"]
    assert registration.default_buttons("DoorBird D1101V") == ["1"]
    assert registration.default_buttons("DoorBird D2102FV EKEY") == ["101", "102"]
    assert registration.default_buttons("") == ["1"]


async def test_d301_events_come_from_the_monitor_stream(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """A DoorBird without schedule.cgi still turns presses and motion into events."""
    api = await _api(hub, http)
    device = await emulators(has_schedule=False, device_type="DoorBird D301")
    await _online(api, device)
    await wait_for(lambda: device._monitors)
    assert await device.press() == []  # no favorites on a D301
    assert (await api.next_message("event"))["event"]["type"] == "press"
    await device.motion()
    assert (await api.next_message("event"))["event"]["type"] == "motion_start"
    assert device.favorites_titled("Doorward ") == {}


async def test_video_refusals_say_what_to_do(
    tmp_path: Path, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """204 without "watch always", 503 when the device has no stream left."""
    hub = Hub(hub_config(tmp_path / "hub", recording=RecordingConfig(enabled=False)))
    await hub.start()
    try:
        api = await _api(hub, http)
        device = await emulators(watch_always=False, max_streams=1)
        await _online(api, device)
        status, body = await api.call("GET", f"doorbells/{DOORBELL_ID}/video")
        assert status == 409
        assert "watch always" in body["message"]
        status, body = await api.call("GET", f"doorbells/{DOORBELL_ID}/snapshot")
        assert (status, "watch always" in body["message"]) == (409, True)

        await device.press()  # a ring opens the 5 minutes in which this user may watch
        async with http.get(
            f"{api.base}/doorbells/{DOORBELL_ID}/video", headers=api.headers
        ) as watching:
            assert watching.status == 200
            await watching.content.readuntil(b"\xff\xd8")
            status, body = await api.call("GET", f"doorbells/{DOORBELL_ID}/video")
            assert status == 409
            assert body["message"].startswith("no video stream left")
    finally:
        await hub.stop()


async def test_notification_url_override(
    tmp_path: Path, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """A hub the devices reach at another address (NAT, Docker) registers that address."""
    port = free_port()
    hub = Hub(hub_config(tmp_path / "hub", port=port, notify_base_url=f"http://localhost:{port}"))
    await hub.start()
    try:
        api = await _api(hub, http)
        device = await emulators()
        await _online(api, device)
        values = [fav["value"] for fav in device.favorites_titled("Doorward ").values()]
        assert values
        assert all(v.startswith(f"http://localhost:{port}/api/v1/notify/") for v in values)
        assert await device.press() == [204]
        assert (await api.next_message("event"))["event"]["type"] == "press"
    finally:
        await hub.stop()


@pytest.mark.parametrize(
    "value",
    ["192.168.1.5:8470", "ftp://hub", "http://hub/path", "http://user:pw@hub", "http://hub:99999"],
)
def test_notification_url_override_is_checked(value: str) -> None:
    with pytest.raises(ConfigError, match="notify_base_url"):
        validate({"notify_base_url": value})


async def test_leftovers_of_an_earlier_hub_id_are_removed(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """A reinstalled hub (new id) removes what its earlier self registered, and nothing else."""
    api = await _api(hub, http)
    device = await emulators()
    base = f"http://{LOOPBACK}:{hub.port}/api/v1/notify/doorbird/{DOORBELL_ID}"
    device.favorites["http"]["7"] = {"title": "Doorward hub-old press", "value": f"{base}/s/press"}
    elsewhere = "http://127.0.0.9:8470/api/v1/notify/doorbird/" + DOORBELL_ID + "/t/press"
    device.favorites["http"]["8"] = {"title": "Doorward hub-next-door press", "value": elsewhere}
    for entry in device.schedule:
        if entry["input"] == "doorbell":
            for fav_id in ("7", "8"):
                entry["output"].append({"event": "http", "param": fav_id, "schedule": {}})
    await _online(api, device)
    assert "7" not in device.favorites["http"]
    assert "7" not in device.http_outputs("doorbell")
    assert device.favorites["http"]["8"]["value"] == elsewhere  # another hub's: left alone
    assert "8" in device.http_outputs("doorbell")
    assert device.favorites["http"]["0"]["title"] == "Other system"


async def test_notification_url_public_override_needs_no_listening_port() -> None:
    endpoint = HubEndpoint("hub-test", "0.0.0.0", "http://203.0.113.7:18470/")
    url = await endpoint.notify_url(LOOPBACK, "doorbird", "doorbird-1ccae3aabbcc", "s", "motion")
    assert url == "http://203.0.113.7:18470/api/v1/notify/doorbird/doorbird-1ccae3aabbcc/s/motion"


async def test_live_viewers_share_the_recorders_stream(
    recording_hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """A DoorBird serving one stream: the recorder and two live viewers use that one."""
    api = await _api(recording_hub, http)
    device = await emulators(max_streams=1)
    await _online(api, device)
    await wait_for(lambda: device.streams == 1)  # the recorder's
    await wait_for(lambda: recording_hub.recorder.streams[DOORBELL_ID].content_type)
    url = f"{api.base}/doorbells/{DOORBELL_ID}/video"
    async with (
        http.get(url, headers=api.headers) as first,
        http.get(url, headers=api.headers) as second,
    ):
        for viewer in (first, second):
            assert viewer.status == 200
            assert viewer.headers["Content-Type"].endswith("boundary=doorbirdframe")
            start = await viewer.content.readuntil(b"\xff\xd8")
            assert start.startswith(b"--doorbirdframe")  # from a part boundary on
            await viewer.content.readuntil(b"\xff\xd9")  # a whole JPEG
        assert device.streams == 1
    await device.press()  # the recorder still records from it
    assert (await api.next_message("event"))["event"]["type"] == "press"

    async def press_clip() -> bool:
        _, listed = await api.call("GET", f"clips?doorbell={DOORBELL_ID}&trigger=press")
        return bool(listed["clips"])

    await wait_for(press_clip, timeout=30)


async def test_the_hub_registers_outputs_that_fire_all_week(
    hub: Hub, http: aiohttp.ClientSession, emulators: EmulatorFactory
) -> None:
    """The emulator honours each output's schedule, so the hub's "always" window is checked
    at the edges of the week, where a window that wraps around could miss."""
    api = await _api(hub, http)
    device = await emulators()
    await _online(api, device)
    start_of_window = 104400  # the hub's window starts here and wraps round to one second before
    for second in (0, 1, start_of_window - 1, start_of_window, 300_000, WEEK - 1):
        device.week_seconds = lambda second=second: second
        assert await device.press() == [204], second
        assert await device.motion() == [204], second
    # A window that is not on now does not fire: the emulator does evaluate schedules.
    [entry] = [e for e in device.schedule if e["input"] == "motion"]
    for output in entry["output"]:
        output["schedule"] = {"weekdays": [{"from": "3600", "to": "7200"}]}
    device.week_seconds = lambda: 7201
    assert await device.motion() == []
    device.week_seconds = lambda: 3600
    assert await device.motion() == [204]


async def test_doorbird_motion_stops_after_the_hold_time(
    hub: Hub,
    http: aiohttp.ClientSession,
    emulators: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifications, "MOTION_HOLD_SECONDS", 1.0)
    api = await _api(hub, http)
    device = await emulators()
    await _online(api, device)
    assert await device.motion() == [204]
    started = (await api.next_message("event"))["event"]
    assert started["type"] == "motion_start"
    await asyncio.sleep(0.6)
    last_motion = time.monotonic()
    assert await device.motion() == [204]  # motion goes on: the hold starts again
    stopped = (await api.next_message("event"))["event"]
    assert stopped["type"] == "motion_stop"
    assert time.monotonic() - last_motion >= 0.9
    assert stopped["seq"] == started["seq"] + 1
