"""Driver for DoorBird doorbells, through their LAN API (paths under `/bha-api/`, HTTP basic auth).

DoorBirds advertise `_axis-video._tcp.local.` with a TXT `macaddress` starting `1CCAE3`. They
cannot pair: the owner enters the credentials of a DoorBird user with API permission
(`PUT /api/v1/doorbells/{id}/credentials`). Events are pushed: on every connection (and every
`CHECK_INTERVAL`) the driver makes sure the device has an HTTP favorite per event pointing at the
hub's notification URL (with a per-device secret in its path) and that the schedule entries of the
doorbell input and the motion sensor call it. `unpair` removes what it registered.

The LAN API client is small and typed on purpose: `doorbirdpy` (what Home Assistant uses) puts the
password unescaped into URLs, leaves responses unreleased and retries calls for up to a minute
inside the library, all of which fights the hub's own connection handling.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, override

import aiohttp

from doorward_hub.models import EventType
from doorward_hub.protocol import Capability

from .base import (
    Announcement,
    DeviceAuthFailed,
    DeviceEvent,
    DeviceUnreachable,
    DoorbellDriver,
    MalformedMessage,
    PairingRefused,
    VideoSource,
)

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncServiceInfo

    from doorward_hub.models import Doorbell

    from .base import HubEndpoint

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_axis-video._tcp.local."
MAC_PREFIX = "1CCAE3"
ID_PREFIX = "doorbird-"
API_PATH = "/bha-api"
CAPABILITIES = frozenset(
    {Capability.PRESS, Capability.MOTION, Capability.SNAPSHOT, Capability.VIDEO}
)
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)

CHECK_INTERVAL = 60.0
"""Seconds between checks that the device is reachable and still has the hub's registration."""
PRESS_REPEAT_SECONDS = 1.5
"""A press notification this soon after the previous one is a repeat of it (DoorBirds repeat)."""
MOTION_HOLD_SECONDS = 15.0
"""Motion ends (`motion_stop`) this long after the last motion notification."""

NOTIFY_INPUTS = {"press": "doorbell", "motion": "motion"}
"""Notification event (last part of the notification URL) -> the schedule input that calls it."""
ALWAYS = {"weekdays": [{"from": "104400", "to": "104399"}]}
"""A schedule that covers the whole week (a range that wraps around)."""
INBOX_SIZE = 100


def _text(properties: dict[bytes, bytes | None], key: str) -> str | None:
    value = properties.get(key.encode())
    return None if value is None else value.decode("utf-8", "replace").strip()


def _title_prefix(hub_id: str) -> str:
    """Favorites titled so are this hub's (several hubs, or other software, may share a device)."""
    return f"Doorward {hub_id} "


class DoorBirdClient:
    """The LAN API calls the driver needs, with the device's answers checked and typed."""

    def __init__(
        self, session: aiohttp.ClientSession, host: str, port: int, username: str, password: str
    ) -> None:
        """A client for the device at `host:port` with a DoorBird user's credentials."""
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.base = f"http://{netloc}{API_PATH}"
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
            raise DeviceAuthFailed("credentials rejected")
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
        if status != 200 or content_type != "image/jpeg":
            # 204: the user lacks the permission to watch.
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

    async def schedule(self) -> list[dict[str, Any]] | None:
        """The schedule entries; None if the device has no schedule (a D301 answers 404)."""
        status, _, body = await self._call("schedule.cgi")
        if status == 404:
            return None
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


def _http_outputs(entry: dict[str, Any]) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = entry.setdefault("output", [])
    return outputs


def _calls(output: Any, fav_ids: set[str]) -> bool:
    return (
        isinstance(output, dict)
        and output.get("event") == "http"
        and str(output.get("param")) in fav_ids
    )


class DoorBirdDriver(DoorbellDriver):
    """DoorBird door stations, through their LAN API."""

    name = "doorbird"
    service_type = SERVICE_TYPE
    owner_credentials = ("username", "password")

    def __init__(self, session: aiohttp.ClientSession, hub: HubEndpoint) -> None:
        """See `DoorbellDriver`; also keeps the inbox of each connected doorbell."""
        super().__init__(session, hub)
        self._inboxes: dict[str, asyncio.Queue[tuple[str, float]]] = {}

    @override
    def parse_announcement(self, info: AsyncServiceInfo) -> Announcement | None:
        mac = (_text(info.properties, "macaddress") or "").replace(":", "").upper()
        addresses = info.parsed_scoped_addresses()
        if not mac.startswith(MAC_PREFIX) or not mac.isalnum() or not addresses:
            return None  # another Axis-style camera
        instance = info.name.removesuffix("." + SERVICE_TYPE)
        return Announcement(
            driver=self.name,
            device_id=ID_PREFIX + mac.lower(),
            name=instance,
            model="DoorBird",
            # Prefer IPv4: link-local IPv6 needs a scope that URLs carry badly.
            host=sorted(addresses, key=lambda a: ":" in a)[0],
            port=info.port or 80,
            capabilities=CAPABILITIES,
        )

    def _client(self, doorbell: Doorbell) -> DoorBirdClient:
        credentials = doorbell.credentials
        return DoorBirdClient(
            self.session,
            doorbell.host,
            doorbell.port,
            credentials.get("username", ""),
            credentials.get("password", ""),
        )

    @override
    async def pair(self, doorbell: Doorbell, hub_id: str, hub_name: str) -> dict[str, str]:
        raise PairingRefused("credentials needed")

    @override
    def accept_credentials(self, doorbell: Doorbell, entered: Mapping[str, str]) -> dict[str, str]:
        # A new secret with new credentials: the next connection replaces the old registration.
        return {
            "username": entered["username"],
            "password": entered["password"],
            "secret": secrets.token_urlsafe(24),
        }

    @override
    def notify(self, doorbell: Doorbell, secret: str, event: str) -> bool:
        expected = doorbell.credentials.get("secret", "")
        if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
            return False
        if event not in NOTIFY_INPUTS:
            return False
        inbox = self._inboxes.get(doorbell.id)
        if inbox is not None and not inbox.full():
            inbox.put_nowait((event, time.monotonic()))
        return True

    async def _notify_urls(self, doorbell: Doorbell) -> dict[str, str]:
        secret = doorbell.credentials.get("secret")
        if not secret:
            raise PairingRefused("credentials needed")
        return {
            event: await self.hub.notify_url(doorbell.host, self.name, doorbell.id, secret, event)
            for event in NOTIFY_INPUTS
        }

    @override
    async def events(self, doorbell: Doorbell) -> AsyncIterator[DeviceEvent | None]:
        client = self._client(doorbell)
        urls = await self._notify_urls(doorbell)
        inbox: asyncio.Queue[tuple[str, float]] = asyncio.Queue(INBOX_SIZE)
        self._inboxes[doorbell.id] = inbox
        try:
            await client.info()  # are the device and the credentials fine?
            await self._register(client, doorbell, urls)
            yield None
            async with aclosing(self._receive(client, doorbell, urls, inbox)) as events:
                async for event in events:
                    yield event
        except DeviceAuthFailed as err:
            # Only the owner can fix the credentials they entered: not a reason to pair afresh.
            raise PairingRefused("credentials rejected") from err
        finally:
            if self._inboxes.get(doorbell.id) is inbox:
                del self._inboxes[doorbell.id]

    async def _receive(
        self,
        client: DoorBirdClient,
        doorbell: Doorbell,
        urls: dict[str, str],
        inbox: asyncio.Queue[tuple[str, float]],
    ) -> AsyncGenerator[DeviceEvent]:
        """Turn notifications into events: repeated presses dropped, motion held until quiet."""
        next_check = time.monotonic() + CHECK_INTERVAL
        motion_until: float | None = None
        last_press = -math.inf
        while True:
            deadline = next_check if motion_until is None else min(next_check, motion_until)
            try:
                kind, when = await asyncio.wait_for(
                    inbox.get(), max(0.0, deadline - time.monotonic())
                )
            except TimeoutError:
                now = time.monotonic()
                if motion_until is not None and now >= motion_until:
                    motion_until = None
                    yield _event(EventType.MOTION_STOP)
                if now >= next_check:
                    urls = await self._notify_urls(doorbell)  # the hub's address may have changed
                    await self._register(client, doorbell, urls)
                    next_check = time.monotonic() + CHECK_INTERVAL
                continue
            if kind == "press":
                if when - last_press >= PRESS_REPEAT_SECONDS:
                    yield _event(EventType.PRESS)
                last_press = when
            else:
                if motion_until is None:
                    yield _event(EventType.MOTION_START)
                motion_until = when + MOTION_HOLD_SECONDS

    async def _register(
        self, client: DoorBirdClient, doorbell: Doorbell, urls: dict[str, str]
    ) -> None:
        """Make the device call `urls`: one favorite per event, each in its input's schedule.

        Favorites of this hub with another URL (an old secret or address) are removed, and so
        are the schedule outputs that call them. Everything else on the device is left alone.
        """
        prefix = _title_prefix(self.hub.hub_id)
        favorites = await client.http_favorites()
        present = {value for title, value in favorites.values() if title.startswith(prefix)}
        missing = {event: url for event, url in urls.items() if url not in present}
        for event, url in missing.items():
            await client.save_favorite(prefix + event, url)
        if missing:
            favorites = await client.http_favorites()
        fav_ids: dict[str, str] = {}
        stale: set[str] = set()
        for fav_id, (title, value) in favorites.items():
            if not title.startswith(prefix):
                continue
            matched = next((e for e, url in urls.items() if url == value), None)
            if matched is None or matched in fav_ids:
                stale.add(fav_id)
            else:
                fav_ids[matched] = fav_id
        if set(fav_ids) != set(urls):
            raise MalformedMessage("the device did not keep the hub's favorites")
        entries = await client.schedule()
        if entries is None:
            _LOGGER.warning(
                "DoorBird has no schedule (schedule.cgi 404): presses and motion cannot be pushed",
                extra={"doorbell_id": doorbell.id},
            )
        else:
            await self._schedule(client, entries, fav_ids, stale)
        for fav_id in stale:
            await client.delete_favorite(fav_id)
        if missing or stale:
            _LOGGER.info(
                "Registered the hub's notifications on a DoorBird",
                extra={"doorbell_id": doorbell.id, "removed_stale": len(stale)},
            )

    @staticmethod
    async def _schedule(
        client: DoorBirdClient,
        entries: list[dict[str, Any]],
        fav_ids: dict[str, str],
        stale: set[str],
    ) -> None:
        """Have each input's schedule entries call their favorite; drop calls to `stale` ones."""
        inputs = {NOTIFY_INPUTS[event]: fav_id for event, fav_id in fav_ids.items()}
        for input_name in inputs:
            if not any(entry.get("input") == input_name for entry in entries):
                param = "1" if input_name == "doorbell" else ""  # doorbell inputs are numbered
                entries.append({"input": input_name, "param": param, "output": []})
        for entry in entries:
            outputs = _http_outputs(entry)
            kept = [output for output in outputs if not _calls(output, stale)]
            fav_id = inputs.get(str(entry.get("input")))
            if fav_id is not None and not any(_calls(output, {fav_id}) for output in kept):
                kept.append({"event": "http", "param": fav_id, "enabled": "1", "schedule": ALWAYS})
            if kept != outputs:
                entry["output"] = kept
                await client.save_schedule_entry(entry)

    @override
    async def unpair(self, doorbell: Doorbell) -> None:
        """Remove the hub's favorites and the schedule outputs that call them."""
        client = self._client(doorbell)
        prefix = _title_prefix(self.hub.hub_id)
        ours = {
            fav_id
            for fav_id, (title, _) in (await client.http_favorites()).items()
            if title.startswith(prefix)
        }
        if not ours:
            return
        entries = await client.schedule()
        if entries is not None:
            await self._schedule(client, entries, {}, ours)
        for fav_id in ours:
            await client.delete_favorite(fav_id)
        _LOGGER.info(
            "Removed the hub's notifications from a DoorBird", extra={"doorbell_id": doorbell.id}
        )

    @override
    async def snapshot(self, doorbell: Doorbell) -> bytes:
        return await self._client(doorbell).image()

    @override
    def video_source(self, doorbell: Doorbell) -> VideoSource:
        client = self._client(doorbell)
        return VideoSource(
            f"{client.base}/video.cgi",
            "multipart/x-mixed-replace",
            client.headers,
        )


def _event(event_type: EventType) -> DeviceEvent:
    # Notifications carry no id or device time: the hub's arrival time makes the key.
    key = f"{event_type.value}:{time.time_ns()}"
    return DeviceEvent(event_type, None, key, key)
