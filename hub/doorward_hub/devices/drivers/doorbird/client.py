"""The DoorBird LAN API calls the driver needs, with the device's answers checked and typed.

Small and typed on purpose: `doorbirdpy` (what Home Assistant uses) puts the password unescaped
into URLs, leaves responses unreleased and retries calls for up to a minute inside the library,
all of which fights the hub's own connection handling.

Answers that matter to the owner are told apart: 401 (wrong credentials, or on favorites and
schedule a user without the "API-Operator" permission), 423 (the device locked the user out after
failed logins), 204 from `image.cgi`/`video.cgi` (a user without "watch always" outside the five
minutes after a ring).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from ..base import DeviceAuthFailed, DeviceLockedOut, DeviceUnreachable, MalformedMessage

API_PATH = "/bha-api"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
MONITOR_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=None)
LOCKOUT_SECONDS = 300.0
"""How long to leave a device alone after a 423 without `Retry-After` (DoorBirds lock a user out
for minutes after repeated failed logins)."""
MONITOR_INPUTS = {"doorbell": "doorbell", "motionsensor": "motion"}
"""`monitor.cgi` event names -> the schedule inputs they stand for."""


def netloc(host: str, port: int) -> str:
    """`host:port`, IPv6 addresses in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def locked_out(response: aiohttp.ClientResponse) -> DeviceLockedOut:
    """The error for a 423 answer, honouring `Retry-After` (seconds) when the device sends it."""
    try:
        retry_after = max(float(response.headers.get("Retry-After", "")), 1.0)
    except ValueError:
        retry_after = LOCKOUT_SECONDS
    minutes = max(round(retry_after / 60), 1)
    return DeviceLockedOut(
        f"locked out: the DoorBird refuses this user after failed logins; "
        f"the hub tries again in about {minutes} min",
        retry_after,
    )


class VideoNotPermitted(MalformedMessage):
    """204 from `image.cgi`/`video.cgi`: the user may watch only shortly after a ring."""


class NoScheduleError(MalformedMessage):
    """The device has no `schedule.cgi` (a D301): events come from `monitor.cgi` instead."""


async def is_door_station(session: aiohttp.ClientSession, host: str, port: int) -> bool | None:
    """Whether the device at `host:port` is a door station rather than an accessory (I/O
    controller, indoor station) announcing itself alike: as Home Assistant does, ask
    `monitor.cgi?check=doorbell` without credentials; a door station answers 401. None if the
    device did not answer."""
    url = f"http://{netloc(host, port)}{API_PATH}/monitor.cgi"
    try:
        async with session.get(
            url, params={"check": "doorbell"}, timeout=REQUEST_TIMEOUT
        ) as response:
            await response.read()
    except (aiohttp.ClientError, TimeoutError):
        return None
    return response.status == 401


class DoorBirdClient:
    """One DoorBird user's view of one device."""

    def __init__(
        self, session: aiohttp.ClientSession, host: str, port: int, username: str, password: str
    ) -> None:
        """A client for the device at `host:port` with a DoorBird user's credentials."""
        self.base = f"http://{netloc(host, port)}{API_PATH}"
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {basic}"}
        self._session = session

    async def _call(
        self,
        cgi: str,
        params: Mapping[str, str] | None = None,
        payload: Any = None,
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) of a GET (POST with a JSON `payload`) to `cgi`."""
        method = "GET" if payload is None else "POST"
        try:
            async with self._session.request(
                method,
                f"{self.base}/{cgi}",
                params=params,
                json=payload,
                headers=self.headers,
                timeout=REQUEST_TIMEOUT,
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeviceUnreachable(f"{cgi} failed: {err!r}") from err
        if response.status == 401:
            raise DeviceAuthFailed(f"{cgi} answered 401")
        if response.status == 423:
            raise locked_out(response)
        return response.status, response.content_type, body

    async def _json(self, cgi: str, params: Mapping[str, str] | None = None) -> Any:
        status, _, body = await self._call(cgi, params)
        if status != 200:
            raise MalformedMessage(f"{cgi} answered HTTP {status}")
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise MalformedMessage(f"{cgi} answered something that is not JSON") from err

    async def _ok(
        self, cgi: str, params: Mapping[str, str] | None = None, payload: Any = None
    ) -> None:
        status, _, _ = await self._call(cgi, params, payload)
        if status != 200:
            raise MalformedMessage(f"{cgi} answered HTTP {status}")

    async def info(self) -> dict[str, Any]:
        """The device's `VERSION` record (firmware, build, MAC, device type)."""
        answer = await self._json("info.cgi")
        try:
            version = answer["BHA"]["VERSION"][0]
        except (KeyError, IndexError, TypeError) as err:
            raise MalformedMessage("info.cgi answer lacks BHA.VERSION") from err
        if not isinstance(version, dict):
            raise MalformedMessage("info.cgi answer lacks BHA.VERSION")
        return version

    async def image(self) -> bytes:
        """The current picture (JPEG)."""
        status, content_type, body = await self._call("image.cgi")
        if status == 204:
            raise VideoNotPermitted(WATCH_ALWAYS_MISSING)
        if status != 200 or content_type != "image/jpeg":
            raise MalformedMessage(f"image.cgi answered HTTP {status} ({content_type})")
        return body

    async def http_favorites(self) -> dict[str, tuple[str, str]]:
        """The HTTP favorites: id -> (title, value)."""
        answer = await self._json("favorites.cgi")
        group = answer.get("http") if isinstance(answer, dict) else None
        if not isinstance(group, dict):
            return {}
        return {
            str(fav_id): (str(fav.get("title", "")), str(fav.get("value", "")))
            for fav_id, fav in group.items()
            if isinstance(fav, dict)
        }

    async def save_favorite(self, title: str, value: str) -> None:
        """Add an HTTP favorite (the device picks its id)."""
        params = {"action": "save", "type": "http", "title": title, "value": value}
        await self._ok("favorites.cgi", params)

    async def delete_favorite(self, fav_id: str) -> None:
        """Remove an HTTP favorite."""
        await self._ok("favorites.cgi", {"action": "remove", "type": "http", "id": fav_id})

    async def schedule(self) -> list[dict[str, Any]]:
        """The schedule entries; `NoScheduleError` if the device has none (a D301: 404)."""
        status, _, body = await self._call("schedule.cgi")
        if status == 404:
            raise NoScheduleError("schedule.cgi answered 404")
        if status != 200:
            raise MalformedMessage(f"schedule.cgi answered HTTP {status}")
        try:
            entries = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise MalformedMessage("schedule.cgi answered something that is not JSON") from err
        if not isinstance(entries, list):
            raise MalformedMessage("schedule.cgi answered something that is not a list")
        return [
            entry
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("output", []), list)
        ]

    async def save_schedule_entry(self, entry: dict[str, Any]) -> None:
        """Add or replace the schedule entry of `entry`'s input and param."""
        await self._ok("schedule.cgi", payload=entry)

    async def monitor(self) -> AsyncIterator[str]:
        """The inputs that fire, from `monitor.cgi?ring=doorbell,motionsensor` (a long-lived
        multipart stream of `doorbell:H`/`motionsensor:H` lines): "doorbell" or "motion".
        Ends when the device closes the stream."""
        try:
            async with self._session.get(
                f"{self.base}/monitor.cgi",
                params={"ring": "doorbell,motionsensor"},
                headers=self.headers,
                timeout=MONITOR_TIMEOUT,
            ) as response:
                if response.status == 401:
                    raise DeviceAuthFailed("monitor.cgi answered 401")
                if response.status == 423:
                    raise locked_out(response)
                if response.status != 200:
                    raise MalformedMessage(f"monitor.cgi answered HTTP {response.status}")
                async for raw in response.content:
                    name, _, level = raw.decode("ascii", "replace").strip().partition(":")
                    if level == "H" and name in MONITOR_INPUTS:
                        yield MONITOR_INPUTS[name]
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeviceUnreachable(f"monitor.cgi failed: {err!r}") from err
        except asyncio.IncompleteReadError as err:
            raise DeviceUnreachable("monitor.cgi stream broke") from err


WATCH_ALWAYS_MISSING = (
    "video not permitted: the DoorBird user may watch only in the 5 minutes after a ring; "
    "give it the 'watch always' permission in the DoorBird app"
)
