"""An emulated DoorBird for tests, on loopback only.

It serves the LAN API calls the hub's driver uses, as the public LAN-2-LAN API documents them
(paths under `/bha-api/`, HTTP basic auth answering 401 to wrong credentials): `info.cgi`,
`image.cgi` (a real JPEG), `video.cgi` (a real MJPEG `multipart/x-mixed-replace` stream),
`favorites.cgi` (list, `action=save`, `action=remove`) and `schedule.cgi` (GET the entries, POST
one entry, `action=remove`) and `monitor.cgi` (`check=doorbell`, and the `ring=` event stream);
with `has_schedule=False` it answers 404 on `schedule.cgi` like a D301. It advertises
`_axis-video._tcp.local.` with TXT `macaddress` on 127.0.0.1. `press` and `motion` do what the
device does: call every enabled HTTP favorite that the schedule entries of the doorbell input (or
the motion sensor) name and whose output `schedule` covers the moment, `repeats` times (DoorBirds
send repeats), and write the event to open `monitor.cgi` streams. An output's schedule is a list
of `weekdays` windows in seconds of the week (`from` > `to` wraps around the end of the week); an
output without one never fires. `week_seconds` says where in the week the device is (now, by
default; tests set it).

What owners run into can be set up: a user without the API-Operator permission (`api_operator`:
info.cgi 200, favorites/schedule 401), without "watch always" (`watch_always`: 204 from
`video.cgi`/`image.cgi` except in the 5 minutes after a ring), the device's stream limit
(`max_streams`, 503 beyond it), the lock-out after failed logins (`lockout_after` failures: 423
for `lockout_seconds`), stations with several buttons (`buttons`, one doorbell schedule entry
each, or none with `doorbell_entries=False`), an accessory (`accessory`: `monitor.cgi` is not
there), an `info.cgi` MAC other than the announced one (`info_mac`), a busy device (`busy`: 503
from `info.cgi`). Every request's path is kept in `requests` (to count what the hub sends).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from doorward_simulator.video import Picture

WEEK = 7 * 86400
MONDAY = 4 * 86400  # 1970-01-05 00:00 UTC, a Monday: the weeks count from here

LOOPBACK = "127.0.0.1"
SERVICE_TYPE = "_axis-video._tcp.local."
BOUNDARY = "doorbirdframe"
FRAME_INTERVAL = 0.1
ALWAYS = {"weekdays": [{"from": "0", "to": "604799"}]}
WATCH_AFTER_RING = 300.0
"""A user without "watch always" may watch for this long after a ring."""
FOREIGN_FAVORITE = {"title": "Other system", "value": "http://127.0.0.1:9/elsewhere"}


def covers(schedule: dict[str, Any] | None, week_second: int) -> bool:
    """Whether an output's schedule is on at `week_second` (0 = Monday 00:00)."""
    for window in (schedule or {}).get("weekdays", []):
        start, end = int(window["from"]), int(window["to"])
        if start <= end:
            if start <= week_second <= end:
                return True
        elif week_second >= start or week_second <= end:  # wraps around the end of the week
            return True
    return False


class DoorBirdEmulator:
    """One emulated DoorBird (or, with a MAC outside `1CCAE3`, another Axis-style camera)."""

    def __init__(
        self,
        mac: str = "1CCAE3AABBCC",
        *,
        username: str = "abcdef0001",
        password: str = "correct horse",
        name: str = "DoorBird D2101V",
        has_schedule: bool = True,
        buttons: tuple[str, ...] = ("1",),
        doorbell_entries: bool = True,
        device_type: str = "DoorBird D2101V",
        api_operator: bool = True,
        watch_always: bool = True,
        max_streams: int = 2,
        lockout_after: int | None = None,
        lockout_seconds: float = 300.0,
        accessory: bool = False,
        info_mac: str | None = None,
    ) -> None:
        self.mac, self.username, self.password = mac, username, password
        self.week_seconds: Callable[[], int] = lambda: int(time.time() - MONDAY) % WEEK
        self.name = f"{name} - {mac}"
        self.has_schedule = has_schedule
        self.device_type = device_type
        self.api_operator = api_operator
        self.watch_always = watch_always
        self.max_streams = max_streams
        self.lockout_after = lockout_after
        self.lockout_seconds = lockout_seconds
        self.accessory = accessory
        self.info_mac = info_mac or mac
        self.busy = False
        self.requests: list[str] = []
        self.streams = 0
        self._failures = 0
        self._locked_until = 0.0
        self._last_ring = -math.inf
        self._monitors: set[asyncio.Queue[str]] = set()
        self.picture = Picture("DOORBIRD", 320, 240)
        # What a fresh device has: a favorite of another system and the app's push output.
        self.favorites: dict[str, dict[str, dict[str, str]]] = {
            "sip": {},
            "http": {"0": dict(FOREIGN_FAVORITE)},
        }
        doorbells = [
            {
                "input": "doorbell",
                "param": button,
                "output": [{"event": "notify", "param": "", "schedule": ALWAYS}],
            }
            for button in (buttons if doorbell_entries else ())
        ]
        self.schedule: list[dict[str, Any]] = [
            *doorbells,
            {"input": "motion", "param": "", "output": []},
        ]
        self._next_id = 1
        self.port = 0
        self.unauthorized = 0
        self._runner: web.AppRunner | None = None
        self._zeroconf: AsyncZeroconf | None = None
        self._service: AsyncServiceInfo | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False

    # Lifecycle
    async def start(self, *, advertise: bool = True) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/bha-api/info.cgi", self._info)
        app.router.add_get("/bha-api/image.cgi", self._image)
        app.router.add_get("/bha-api/video.cgi", self._video)
        app.router.add_get("/bha-api/favorites.cgi", self._favorites)
        app.router.add_get("/bha-api/schedule.cgi", self._schedule_get)
        if not self.accessory:
            app.router.add_get("/bha-api/monitor.cgi", self._monitor)
        app.router.add_post("/bha-api/schedule.cgi", self._schedule_post)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()
        if advertise:
            self._zeroconf = AsyncZeroconf(interfaces=[LOOPBACK])
            self._service = AsyncServiceInfo(
                SERVICE_TYPE,
                f"{self.name}.{SERVICE_TYPE}",
                port=self.port,
                properties={"macaddress": self.mac},
                server=f"bha-{self.mac.lower()}.local.",
                parsed_addresses=[LOOPBACK],
            )
            await (await self._zeroconf.async_register_service(self._service))

    async def stop(self) -> None:
        self._stopping = True
        if self._zeroconf is not None:
            if self._service is not None:
                await (await self._zeroconf.async_unregister_service(self._service))
            await self._zeroconf.async_close()
            self._zeroconf = None
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # The device's buttons
    async def press(self, repeats: int = 1, button: str = "1") -> list[int]:
        """Ring `button`: call the favorites of its doorbell input's schedule entry; their HTTP
        statuses."""
        self._last_ring = time.monotonic()
        return await self._trigger("doorbell", button, repeats)

    async def motion(self, repeats: int = 1) -> list[int]:
        """Motion: call the favorites of the motion sensor's schedule; their HTTP statuses."""
        return await self._trigger("motion", "", repeats)

    async def _trigger(self, input_name: str, param: str, repeats: int) -> list[int]:
        assert self._session is not None
        for queue in self._monitors:
            queue.put_nowait("doorbell" if input_name == "doorbell" else "motionsensor")
        urls = [
            self.favorites["http"][str(output["param"])]["value"]
            for entry in self.schedule
            if (entry["input"], entry["param"]) == (input_name, param)
            for output in entry["output"]
            if output.get("event") == "http"
            and output.get("enabled", "1") != "0"
            and str(output["param"]) in self.favorites["http"]
            and covers(output.get("schedule"), self.week_seconds())
        ]
        statuses = []
        for _ in range(repeats):
            for url in urls:
                async with self._session.get(url) as response:
                    statuses.append(response.status)
        return statuses

    # What the hub registered
    def favorites_titled(self, prefix: str) -> dict[str, dict[str, str]]:
        return {
            fav_id: fav
            for fav_id, fav in self.favorites["http"].items()
            if fav["title"].startswith(prefix)
        }

    def http_outputs(self, input_name: str, param: str | None = None) -> list[str]:
        """The favorite ids the schedule entries of `input_name` (and `param`) call."""
        return [
            str(output["param"])
            for entry in self.schedule
            if entry["input"] == input_name and param in (None, entry["param"])
            for output in entry["output"]
            if output.get("event") == "http"
        ]

    # HTTP
    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(request.path)
        if request.match_info.http_exception is not None:
            raise request.match_info.http_exception  # no such CGI on this device
        if time.monotonic() < self._locked_until:
            return web.Response(status=423, text="423 Locked")
        credentials = f"{self.username}:{self.password}".encode()
        expected = "Basic " + base64.b64encode(credentials).decode()
        if request.headers.get("Authorization") != expected:
            self.unauthorized += 1
            self._failures += "Authorization" in request.headers  # a failed login
            if self.lockout_after is not None and self._failures >= self.lockout_after:
                self._locked_until = time.monotonic() + self.lockout_seconds
                self._failures = 0
            return web.Response(
                status=401,
                text="401 Unauthorized",
                headers={"WWW-Authenticate": 'Basic realm="Access to bha-api"'},
            )
        self._failures = 0
        if not self.api_operator and request.path.endswith(("/favorites.cgi", "/schedule.cgi")):
            return web.Response(status=401, text="401 Unauthorized")
        response: web.StreamResponse = await handler(request)
        return response

    def lock_out(self, seconds: float | None = None) -> None:
        """Answer 423 to everything for `seconds` (default `lockout_seconds`)."""
        self._locked_until = time.monotonic() + (seconds or self.lockout_seconds)

    def _may_watch(self) -> bool:
        return self.watch_always or time.monotonic() - self._last_ring < WATCH_AFTER_RING

    async def _info(self, request: web.Request) -> web.Response:
        if self.busy:
            return web.Response(status=503, text="503 Service Unavailable")
        version = {
            "FIRMWARE": "000139",
            "BUILD_NUMBER": "58110009",
            "PRIMARY_MAC_ADDR": self.info_mac,
            "RELAYS": ["1"],
            "DEVICE-TYPE": self.device_type,
        }
        return web.json_response({"BHA": {"RETURNCODE": "1", "VERSION": [version]}})

    async def _image(self, request: web.Request) -> web.Response:
        if not self._may_watch():
            return web.Response(status=204)
        jpeg = await asyncio.to_thread(self.picture.jpeg, time.time())
        return web.Response(body=jpeg, content_type="image/jpeg")

    async def _video(self, request: web.Request) -> web.StreamResponse:
        if not self._may_watch():
            return web.Response(status=204)
        if self.streams >= self.max_streams:
            return web.Response(status=503, text="503 Service Unavailable")
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"}
        )
        await response.prepare(request)
        self.streams += 1
        try:
            while not self._stopping:
                jpeg = await asyncio.to_thread(self.picture.jpeg, time.time())
                head = (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n"
                )
                await response.write(head.encode() + jpeg + b"\r\n")
                await asyncio.sleep(FRAME_INTERVAL)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass
        finally:
            self.streams -= 1
        return response

    async def _monitor(self, request: web.Request) -> web.StreamResponse:
        if "check" in request.query:
            return web.Response(text="doorbell=0\r\n")
        wanted = set(request.query.get("ring", "").split(","))
        response = web.StreamResponse(
            headers={"Content-Type": "multipart/x-mixed-replace; boundary=ioboundary"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._monitors.add(queue)
        try:
            while not self._stopping:
                name = await queue.get()
                if name in wanted:
                    part = f"--ioboundary\r\nContent-Type: text/plain\r\n\r\n{name}:H\r\n\r\n"
                    await response.write(part.encode())
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass
        finally:
            self._monitors.discard(queue)
        return response

    async def _favorites(self, request: web.Request) -> web.Response:
        action = request.query.get("action")
        if action is None:
            return web.json_response(self.favorites)
        return web.Response(status=self._change_favorites(action, request.query))

    def _change_favorites(self, action: str, query: Mapping[str, str]) -> int:
        kind, fav_id = query.get("type"), query.get("id")
        if kind not in ("http", "sip"):
            return 400
        if action == "save" and query.get("title") and query.get("value"):
            if fav_id is None:
                fav_id = str(self._next_id)
                self._next_id += 1
            self.favorites[kind][fav_id] = {"title": query["title"], "value": query["value"]}
            return 200
        if action == "remove" and fav_id is not None:
            self.favorites[kind].pop(fav_id, None)
            return 200
        return 400

    async def _schedule_get(self, request: web.Request) -> web.Response:
        if not self.has_schedule:
            return web.Response(status=404)
        if request.query.get("action") == "remove":
            input_name, param = request.query.get("input"), request.query.get("param", "")
            self.schedule = [
                e for e in self.schedule if (e["input"], e["param"]) != (input_name, param)
            ]
            return web.Response()
        return web.json_response(copy.deepcopy(self.schedule))

    async def _schedule_post(self, request: web.Request) -> web.Response:
        if not self.has_schedule:
            return web.Response(status=404)
        try:
            entry = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400)
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("input"), str)
            or not isinstance(entry.get("output"), list)
        ):
            return web.Response(status=400)
        entry.setdefault("param", "")
        for index, existing in enumerate(self.schedule):
            if (existing["input"], existing["param"]) == (entry["input"], entry["param"]):
                self.schedule[index] = entry
                break
        else:
            self.schedule.append(entry)
        return web.Response()
