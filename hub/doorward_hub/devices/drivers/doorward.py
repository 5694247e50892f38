"""Driver for the open Doorward doorbell protocol (docs/doorbell-protocol.md)."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, override
from urllib.parse import urlencode

import aiohttp

from doorward_hub.models import EventType

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

SERVICE_TYPE = "_doorward-bell._tcp.local."
PROTOCOL_VERSION = 1
BASE_PATH = "/doorward/v1"
HEARTBEAT = 20.0
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
_EVENT_TYPES = {t.value: t for t in EventType}


def _text(properties: dict[bytes, bytes | None], key: str) -> str | None:
    value = properties.get(key.encode())
    return None if value is None else value.decode("utf-8", "replace").strip()


def _base_url(doorbell: Doorbell) -> str:
    host = f"[{doorbell.host}]" if ":" in doorbell.host else doorbell.host
    return f"http://{host}:{doorbell.port}{BASE_PATH}"


def _auth(doorbell: Doorbell) -> dict[str, str]:
    return {"Authorization": f"Bearer {doorbell.credentials.get('token', '')}"}


def _split_cursor(cursor: str | None) -> tuple[str, int] | None:
    if not cursor or ":" not in cursor:
        return None
    boot, _, seq = cursor.rpartition(":")
    return (boot, int(seq)) if seq.isdigit() else None


def parse_event(message: Any, boot: str) -> DeviceEvent | None:
    """Read one message from the event stream.

    Returns None for a well-formed message this hub does not know (another message type, a
    newer event type): later protocol versions may add them, and they are skipped. Raises
    `MalformedMessage` for anything that breaks the protocol.
    """
    if not isinstance(message, dict):
        raise MalformedMessage(f"expected a JSON object, got {str(message)[:80]!r}")
    if message.get("type") != "event":
        return None
    seq = message.get("seq")
    device_time = message.get("time")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise MalformedMessage(f"bad event seq {seq!r}")
    if not isinstance(device_time, int | float) or not math.isfinite(device_time):
        raise MalformedMessage(f"bad event time {device_time!r}")
    event_type = _EVENT_TYPES.get(message.get("event"))  # type: ignore[arg-type]
    if event_type is None:
        return None
    key = f"{boot}:{seq}"
    return DeviceEvent(event_type, float(device_time), key, key)


class DoorwardDriver(DoorbellDriver):
    """Doorbells speaking the Doorward protocol, the simulator among them."""

    name = "doorward"
    service_type = SERVICE_TYPE

    @override
    def parse_announcement(self, info: AsyncServiceInfo) -> Announcement | None:
        props = info.properties
        device_id = _text(props, "id")
        proto = _text(props, "proto") or ""
        addresses = info.parsed_scoped_addresses()
        if not device_id or not proto.isdigit() or int(proto) != PROTOCOL_VERSION:
            return None
        if not addresses or not info.port:
            return None
        instance = info.name.removesuffix("." + SERVICE_TYPE)
        caps = _text(props, "caps") or ""
        return Announcement(
            driver=self.name,
            device_id=device_id,
            name=_text(props, "name") or instance,
            model=_text(props, "model") or "Doorward doorbell",
            # Prefer IPv4: link-local IPv6 needs a scope that URLs carry badly.
            host=sorted(addresses, key=lambda a: ":" in a)[0],
            port=info.port,
            capabilities=frozenset(c.strip() for c in caps.split(",") if c.strip()),
        )

    @override
    async def pair(self, doorbell: Doorbell, hub_id: str, hub_name: str) -> dict[str, str]:
        body = {"hub_id": hub_id, "hub_name": hub_name}
        try:
            async with self.session.post(
                f"{_base_url(doorbell)}/pair", json=body, timeout=REQUEST_TIMEOUT
            ) as response:
                answer = await self._json(response)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeviceUnreachable(f"pairing request failed: {err!r}") from err
        if response.status == 409:
            raise PairingRefused("device is paired to another hub; open its pairing window")
        if response.status != 200:
            raise PairingRefused(f"device refused pairing: HTTP {response.status}")
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedMessage("pairing answer has no token")
        return {"token": token}

    @staticmethod
    async def _json(response: aiohttp.ClientResponse) -> Any:
        try:
            return await response.json(content_type=None)
        except (json.JSONDecodeError, UnicodeDecodeError, aiohttp.ContentTypeError):
            return None

    @override
    async def events(self, doorbell: Doorbell) -> AsyncIterator[DeviceEvent | None]:
        resume = _split_cursor(doorbell.cursor)
        ws, boot, latest = await self._open_events(doorbell, resume)
        if resume is not None and resume[0] != boot and latest > 0:
            # The device restarted since our last event: ask for what it recorded since.
            await ws.close()
            ws, boot, latest = await self._open_events(doorbell, (boot, 0))
        async with ws:
            yield None
            while True:
                message = await self._receive(ws)
                if message is None:
                    return
                event = parse_event(message, boot)
                if event is not None:
                    yield event

    async def _open_events(
        self, doorbell: Doorbell, resume: tuple[str, int] | None
    ) -> tuple[aiohttp.ClientWebSocketResponse, str, int]:
        """Connect to the event stream; returns it with the device's boot id and latest seq."""
        query = urlencode({"boot": resume[0], "after": resume[1]}) if resume else ""
        url = f"{_base_url(doorbell)}/events" + (f"?{query}" if query else "")
        try:
            ws = await self.session.ws_connect(
                url,
                headers=_auth(doorbell),
                heartbeat=HEARTBEAT,
                timeout=aiohttp.ClientWSTimeout(ws_receive=3 * HEARTBEAT),
            )
        except aiohttp.WSServerHandshakeError as err:
            if err.status == 401:
                raise DeviceAuthFailed("device rejected the hub's token") from err
            raise DeviceUnreachable(f"event stream refused: HTTP {err.status}") from err
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeviceUnreachable(f"cannot connect: {err!r}") from err
        try:
            hello = await self._receive(ws)
            if not isinstance(hello, dict) or hello.get("type") != "hello":
                raise MalformedMessage("the event stream did not start with hello")
            boot, latest = hello.get("boot"), hello.get("seq", 0)
            if not isinstance(boot, str) or not boot or not isinstance(latest, int):
                raise MalformedMessage("hello lacks a boot id or seq")
        except BaseException:
            await ws.close()
            raise
        return ws, boot, latest

    @staticmethod
    async def _receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
        """The next JSON message; None when the device closed the stream."""
        try:
            msg = await ws.receive()
        except TimeoutError as err:
            raise DeviceUnreachable("event stream silent for too long") from err
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            return None
        if msg.type is aiohttp.WSMsgType.ERROR:
            raise DeviceUnreachable(f"event stream broke: {ws.exception()!r}")
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise MalformedMessage(f"unexpected {msg.type.name} message")
        try:
            return json.loads(msg.data)
        except json.JSONDecodeError as err:
            raise MalformedMessage(f"not JSON: {str(msg.data)[:80]!r}") from err

    @override
    async def snapshot(self, doorbell: Doorbell) -> bytes:
        try:
            async with self.session.get(
                f"{_base_url(doorbell)}/snapshot", headers=_auth(doorbell), timeout=REQUEST_TIMEOUT
            ) as response:
                if response.status == 401:
                    raise DeviceAuthFailed("device rejected the hub's token")
                if response.status != 200 or response.content_type != "image/jpeg":
                    raise MalformedMessage(f"snapshot answer: HTTP {response.status}")
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeviceUnreachable(f"snapshot request failed: {err!r}") from err

    @override
    def video_source(self, doorbell: Doorbell) -> VideoSource:
        return VideoSource(f"{_base_url(doorbell)}/video", "video/mp2t", _auth(doorbell))
