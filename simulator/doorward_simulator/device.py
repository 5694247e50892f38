"""Simulated doorbells speaking the Doorward doorbell protocol (docs/doorbell-protocol.md).

`SimulatedDoorbell` is one doorbell: an aiohttp server with the protocol's HTTP API and the
simulator's `/sim` control endpoints, advertised over mDNS. `Simulator` runs several of them
sharing one `AsyncZeroconf`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, cast

import av
import ifaddr
from aiohttp import WSCloseCode, web
from zeroconf import InterfaceChoice
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from . import __version__
from .footage import Footage
from .video import LiveVideo, Picture, Viewer

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_doorward-bell._tcp.local."
PROTOCOL_VERSION = 1
MODEL = "Doorward Simulator"
FIRMWARE_VERSION = __version__
CAPABILITIES = ("press", "motion", "snapshot", "video")
API_PATH = "/doorward/v1"
PAIRING_WINDOW = 120.0
"""Seconds the pairing window stays open."""
EVENT_HISTORY = 200
"""Events kept for replay (the protocol asks for at least 100)."""
HEARTBEAT = 20.0
"""Seconds between the device's WebSocket pings."""

Misbehaviour = Literal["garbage", "none"]
MISBEHAVIOURS: tuple[Misbehaviour, ...] = ("garbage", "none")

_DEVICE_ID = re.compile(r"[a-z0-9-]{3,64}")
_SEQ = re.compile(r"[0-9]{1,18}")
_INSTANCE_BYTES = 63  # DNS label limit for the instance name
_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "already_paired",
    413: "too_large",
}


class _ApiError(Exception):
    """A request the device refuses: becomes a JSON error response."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": code, "message": message}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer every refused request with the protocol's JSON error body."""
    try:
        return await handler(request)
    except _ApiError as err:
        return _error_response(err.status, err.code, err.message, err.headers)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        allow = {"Allow": err.headers["Allow"]} if "Allow" in err.headers else None
        return _error_response(err.status, _ERROR_CODES.get(err.status, "error"), err.reason, allow)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 error."""
    try:
        body = await request.json()
    except (ValueError, LookupError) as err:  # bad JSON, bad UTF-8, unknown charset
        raise _ApiError(400, "bad_request", f"the body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise _ApiError(400, "bad_request", "the body must be a JSON object")
    return body


def _string_field(body: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not (empty or value.strip()):
        kind = "a string" if empty else "a non-empty string"
        raise _ApiError(400, "bad_request", f"field {key!r} must be {kind}")
    return value


def _instance_name(name: str, fallback: str) -> str:
    """`name` made fit for a DNS-SD instance name: one line, no dots, at most 63 bytes."""
    text = " ".join("".join(c if c.isprintable() and c != "." else " " for c in name).split())
    data = text.encode()[:_INSTANCE_BYTES]
    return data.decode(errors="ignore").strip() or fallback


def _advertised_addresses(host: str, interfaces: Sequence[str] | None) -> list[str]:
    """The addresses to announce for an API listening on `host` (blocking: lists adapters)."""
    address = ipaddress.ip_address(host)
    if not address.is_unspecified:
        return [host]
    if interfaces:
        return list(interfaces)
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            candidate = ipaddress.ip_address(text)
            if candidate.version == address.version and not candidate.is_link_local:
                found.append(candidate)
    outside = [a for a in found if not a.is_loopback]
    return sorted({str(a) for a in outside or found})


def _zeroconf_interfaces(
    host: str, interfaces: Sequence[str] | None
) -> list[str] | InterfaceChoice:
    """mDNS interfaces: the given ones, else the listening address, else all interfaces."""
    if interfaces:
        return list(interfaces)
    if ipaddress.ip_address(host).is_unspecified:
        return InterfaceChoice.All
    return [host]


class SimulatedDoorbell:
    """One simulated doorbell: the protocol's HTTP API, `/sim` controls and an mDNS record.

    `stop` then `start` is a reboot: same id, port and pairing, a new boot id, and events
    numbered from 1 again. Pairing lives in this object only (a new process is unpaired).
    """

    def __init__(
        self,
        device_id: str | None = None,
        name: str = "Doorbell",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        zeroconf: AsyncZeroconf | None = None,
        interfaces: Sequence[str] | None = None,
        width: int = 320,
        height: int = 240,
        fps: float = 10.0,
        audio: bool = False,
        heartbeat: float = HEARTBEAT,
        footage: Footage | None = None,
        capabilities: Sequence[str] = CAPABILITIES,
    ) -> None:
        """Describe the doorbell; nothing runs until `start`.

        `audio` adds a microphone to the live video: a 440 Hz tone as an AAC track.
        `capabilities` are what the doorbell announces (one without a camera leaves out "video").

        `zeroconf` is shared if given; otherwise the doorbell makes its own on `interfaces`
        (default: the `host` address, or every interface when `host` is 0.0.0.0 or ::).
        With `footage`, the live video replays it (its size and rate) instead of encoding the
        picture with its clock.
        """
        device_id = device_id or f"sim-{secrets.token_hex(3)}"
        if not _DEVICE_ID.fullmatch(device_id):
            raise ValueError(f"device id must match [a-z0-9-]{{3,64}}, got {device_id!r}")
        ipaddress.ip_address(host)  # an IP address, not a host name
        self.device_id = device_id
        self.name = name
        self.capabilities = tuple(capabilities)
        self.host = host
        self.port = port
        self.boot = ""
        """Random id of the current run, set by `start`."""
        if footage is not None:
            width, height = footage.spec.width, footage.spec.height
        self.picture = Picture(name, width, height)
        self.video = LiveVideo(self.picture, fps, footage, audio=audio)
        self._zeroconf = zeroconf
        self._own_zeroconf = zeroconf is None
        self._interfaces = list(interfaces) if interfaces else None
        self._heartbeat = heartbeat
        self._addresses: list[str] = []
        self._runner: web.AppRunner | None = None
        self._service: AsyncServiceInfo | None = None
        self._advertising: asyncio.Task[None] | None = None
        self._hub_id: str | None = None
        self._token: str | None = None
        self._window_closes = 0.0  # time.monotonic() when the pairing window closes
        self._seq = 0
        self._history: deque[dict[str, Any]] = deque(maxlen=EVENT_HISTORY)
        self._subscribers: dict[web.WebSocketResponse, asyncio.Queue[str | bytes]] = {}
        self._viewers: set[Viewer] = set()
        self._tasks: set[asyncio.Task[bool]] = set()
        self._mode: Misbehaviour = "none"
        self._garbage_sent = 0

    # -- state -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:8080``."""
        address = self._addresses[0] if self._addresses else self.host
        host = f"[{address}]" if ":" in address else address
        return f"http://{host}:{self.port}"

    @property
    def paired(self) -> bool:
        """True once a hub has paired."""
        return self._hub_id is not None

    @property
    def pairing_window_open(self) -> bool:
        """True while another hub may take over the pairing."""
        return time.monotonic() < self._window_closes

    @property
    def video_viewers(self) -> int:
        """How many live video streams are being served right now."""
        return len(self._viewers)

    @property
    def service_name(self) -> str | None:
        """The full mDNS service name once registered (a suffix is added on name conflicts)."""
        return self._service.name if self._service else None

    def info(self) -> dict[str, Any]:
        """The answer of ``GET /doorward/v1/info``."""
        return {
            "id": self.device_id,
            "name": self.name,
            "model": MODEL,
            "firmware": FIRMWARE_VERSION,
            "protocol": PROTOCOL_VERSION,
            "capabilities": list(self.capabilities),
            "paired": self.paired,
        }

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Boot: listen (`port` is the bound port afterwards) and start advertising over mDNS.

        The API answers when this returns; the mDNS record follows about a second later,
        once the name has been probed for uniqueness on the LAN.
        """
        if self._runner is not None:
            raise RuntimeError(f"doorbell {self.device_id} is already running")
        self.boot = secrets.token_hex(8)
        self._seq = 0
        self._history.clear()
        app = web.Application(middlewares=[_json_errors])
        app.router.add_get(f"{API_PATH}/info", self._handle_info)
        app.router.add_post(f"{API_PATH}/pair", self._handle_pair)
        app.router.add_get(f"{API_PATH}/snapshot", self._handle_snapshot)
        app.router.add_get(f"{API_PATH}/events", self._handle_events)
        app.router.add_get(f"{API_PATH}/video", self._handle_video)
        app.router.add_post("/sim/press", self._handle_press)
        app.router.add_post("/sim/motion", self._handle_motion)
        app.router.add_post("/sim/pairing-window", self._handle_pairing_window)
        app.router.add_post("/sim/misbehave", self._handle_misbehave)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self.port = runner.addresses[0][1]
            self._addresses = await asyncio.to_thread(
                _advertised_addresses, self.host, self._interfaces
            )
            if self._zeroconf is None:
                interfaces = _zeroconf_interfaces(self.host, self._interfaces)
                self._zeroconf = AsyncZeroconf(interfaces=interfaces)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._advertising = asyncio.create_task(self._advertise(self._zeroconf))
        _LOGGER.info(
            "simulated doorbell %s (%s) listening on %s", self.device_id, self.name, self.url
        )

    async def _advertise(self, zeroconf: AsyncZeroconf) -> None:
        """Probe for a unique name (about a second), register, announce."""
        instance = _instance_name(self.name, self.device_id)
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{instance}.{SERVICE_TYPE}",
            port=self.port,
            properties={
                "id": self.device_id,
                "model": MODEL,
                "proto": str(PROTOCOL_VERSION),
                "caps": ",".join(self.capabilities),
                "name": self.name,
            },
            server=f"{self.device_id}.local.",
            parsed_addresses=self._addresses,
        )
        try:
            announcing = await zeroconf.async_register_service(info, allow_name_change=True)
            self._service = info
            await announcing
        except Exception:
            _LOGGER.exception("cannot advertise doorbell %s over mDNS", self.device_id)
        else:
            _LOGGER.info("doorbell %s advertised as %r", self.device_id, info.name)

    async def stop(self) -> None:
        """Withdraw the mDNS record (goodbye), close every connection and stop the video."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        if self._advertising is not None:
            self._advertising.cancel()  # ends probing or announcing; a record is withdrawn below
            await asyncio.gather(self._advertising, return_exceptions=True)
            self._advertising = None
        if self._service is not None and self._zeroconf is not None:
            await (await self._zeroconf.async_unregister_service(self._service))
            self._service = None
        if self._own_zeroconf and self._zeroconf is not None:
            await self._zeroconf.async_close()
            self._zeroconf = None
        self._drop_connections(WSCloseCode.GOING_AWAY, "device stopping")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.video.close()
        await runner.cleanup()
        _LOGGER.info("simulated doorbell %s stopped", self.device_id)

    def _drop_connections(self, code: int, reason: str) -> None:
        """Close every event socket and end every video stream."""
        for viewer in list(self._viewers):
            viewer.close()
        for ws in list(self._subscribers):
            task = asyncio.create_task(ws.close(code=code, message=reason.encode()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- in-process controls -------------------------------------------------------------------

    async def press(self) -> dict[str, Any]:
        """Press the button; returns the event message."""
        return self._emit("press")

    async def motion(self, active: bool) -> dict[str, Any]:
        """Motion starts (True) or stops (False); returns the event message."""
        return self._emit("motion_start" if active else "motion_stop")

    def open_pairing_window(self) -> dict[str, Any]:
        """Let another hub pair during the next `PAIRING_WINDOW` seconds; returns the state."""
        self._window_closes = time.monotonic() + PAIRING_WINDOW
        return self._pairing_state()

    def drop_video(self) -> int:
        """Cut every live video stream, as a Wi-Fi hiccup would; the doorbell stays online and
        takes new viewers at once. Returns how many streams were cut."""
        viewers = list(self._viewers)
        for viewer in viewers:
            viewer.close()
        return len(viewers)

    def misbehave(self, mode: Misbehaviour) -> dict[str, Any]:
        """``"garbage"``: send malformed messages instead of events; ``"none"``: behave."""
        if mode not in MISBEHAVIOURS:
            raise ValueError(f"misbehaviour must be one of {MISBEHAVIOURS}, got {mode!r}")
        self._mode = mode
        return {"mode": mode}

    def _pairing_state(self) -> dict[str, Any]:
        remaining = max(0.0, self._window_closes - time.monotonic())
        return {
            "paired": self.paired,
            "pairing_window_open": remaining > 0,
            "pairing_window_closes": round(time.time() + remaining, 3) if remaining else None,
        }

    def _emit(self, kind: str) -> dict[str, Any]:
        self._seq += 1
        event = {"type": "event", "event": kind, "seq": self._seq, "time": time.time()}
        self._history.append(event)
        wire = self._wire(event)
        for queue in self._subscribers.values():
            queue.put_nowait(wire)
        return dict(event)

    def _wire(self, event: dict[str, Any]) -> str | bytes:
        """What goes over the event socket for `event`: JSON, or garbage when misbehaving."""
        if self._mode == "none":
            return json.dumps(event)
        seq, kind, at = event["seq"], event["event"], event["time"]
        garbage: tuple[str | bytes, ...] = (
            "this is not JSON {",
            json.dumps([kind, seq, at]),
            json.dumps({"type": "event", "event": kind}),
            json.dumps({"type": "event", "event": "on_fire", "seq": seq, "time": at}),
            json.dumps({"type": "event", "event": kind, "seq": str(seq), "time": "now"}),
            json.dumps({"type": "gossip", "seq": seq, "time": at}),
            b"\x00\xff binary junk",
        )
        self._garbage_sent += 1
        return garbage[(self._garbage_sent - 1) % len(garbage)]

    # -- HTTP API ------------------------------------------------------------------------------

    def _authorize(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        valid = (
            self._token is not None
            and scheme.lower() == "bearer"
            and secrets.compare_digest(token.strip().encode(errors="replace"), self._token.encode())
        )
        if not valid:
            raise _ApiError(
                401,
                "unauthorized",
                "missing or wrong bearer token; pair first",
                {"WWW-Authenticate": 'Bearer realm="doorward"'},
            )

    async def _handle_info(self, request: web.Request) -> web.Response:
        return web.json_response(self.info())

    async def _handle_pair(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        hub_id = _string_field(body, "hub_id")
        hub_name = _string_field(body, "hub_name", empty=True)
        if self._hub_id not in (None, hub_id) and not self.pairing_window_open:
            raise _ApiError(
                409,
                "already_paired",
                "paired to another hub; open the pairing window on the device to re-pair",
            )
        self._hub_id, self._token = hub_id, secrets.token_urlsafe(32)
        self._window_closes = 0.0
        self._drop_connections(WSCloseCode.POLICY_VIOLATION, "token replaced")
        _LOGGER.info("doorbell %s paired to hub %s (%s)", self.device_id, hub_id, hub_name)
        return web.json_response({"token": self._token})

    async def _handle_snapshot(self, request: web.Request) -> web.Response:
        self._authorize(request)
        try:
            jpeg = await self.video.snapshot()
        except av.FFmpegError as err:
            return _error_response(503, "unavailable", f"cannot encode a snapshot: {err}")
        return web.Response(
            body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"}
        )

    async def _handle_events(self, request: web.Request) -> web.WebSocketResponse:
        self._authorize(request)
        boot = request.query.get("boot")
        after_text = request.query.get("after", "0")
        if not _SEQ.fullmatch(after_text):
            raise _ApiError(400, "bad_request", "'after' must be a non-negative integer")
        after = int(after_text)
        ws = web.WebSocketResponse(heartbeat=self._heartbeat)
        if not ws.can_prepare(request).ok:
            raise _ApiError(400, "bad_request", "this endpoint needs a WebSocket upgrade")
        await ws.prepare(request)
        # Hello, replay and subscription in one step, so no event is lost or sent twice.
        queue: asyncio.Queue[str | bytes] = asyncio.Queue()
        hello = {
            "type": "hello",
            "id": self.device_id,
            "boot": self.boot,
            "seq": self._seq,
            "time": time.time(),
        }
        queue.put_nowait(json.dumps(hello))
        if boot == self.boot:
            for event in self._history:
                if event["seq"] > after:
                    queue.put_nowait(self._wire(event))
        self._subscribers[ws] = queue
        sender = asyncio.create_task(self._send_events(ws, queue))
        try:
            async for _message in ws:
                pass  # the hub sends nothing; reading handles pings and the close handshake
        finally:
            del self._subscribers[ws]
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        return ws

    @staticmethod
    async def _send_events(ws: web.WebSocketResponse, queue: asyncio.Queue[str | bytes]) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                message = await queue.get()
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_str(message)

    async def _handle_video(self, request: web.Request) -> web.StreamResponse:
        self._authorize(request)
        try:
            viewer = await self.video.watch()
        except (av.FFmpegError, RuntimeError) as err:
            return _error_response(503, "unavailable", f"cannot start the video: {err}")
        self._viewers.add(viewer)
        response = web.StreamResponse(
            headers={
                "Content-Type": "video/mp2t",
                "Cache-Control": "no-store",
                "X-Doorward-Epoch": f"{viewer.epoch:.3f}",
            }
        )
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            async for chunk in viewer:
                await response.write(chunk)
        except ConnectionError:
            pass  # the viewer went away
        finally:
            self._viewers.discard(viewer)
            viewer.close()
        return response

    # -- simulator controls --------------------------------------------------------------------

    async def _handle_press(self, request: web.Request) -> web.Response:
        return web.json_response(await self.press())

    async def _handle_motion(self, request: web.Request) -> web.Response:
        state = (await _json_object(request)).get("state")
        if state not in ("start", "stop"):
            raise _ApiError(400, "bad_request", "field 'state' must be 'start' or 'stop'")
        return web.json_response(await self.motion(state == "start"))

    async def _handle_pairing_window(self, request: web.Request) -> web.Response:
        return web.json_response(self.open_pairing_window())

    async def _handle_misbehave(self, request: web.Request) -> web.Response:
        mode = (await _json_object(request)).get("mode")
        if mode not in MISBEHAVIOURS:
            raise _ApiError(400, "bad_request", "field 'mode' must be 'garbage' or 'none'")
        return web.json_response(self.misbehave(cast(Misbehaviour, mode)))


class Simulator:
    """Several simulated doorbells sharing one `AsyncZeroconf`."""

    def __init__(
        self,
        count: int,
        host: str = "127.0.0.1",
        interfaces: Sequence[str] | None = None,
        name_prefix: str = "Doorbell",
        *,
        base_port: int = 0,
        device_ids: Sequence[str] | None = None,
        width: int = 320,
        height: int = 240,
        fps: float = 10.0,
        audio: bool = False,
        footage: Footage | None = None,
    ) -> None:
        """Describe `count` doorbells named ``"<name_prefix> 1"``...; `start` runs them.

        Device ids are ``sim-<random hex>-<n>`` unless `device_ids` gives them. With a
        `base_port`, doorbell n listens on ``base_port + n - 1``; otherwise on free ports.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if base_port and base_port + count - 1 > 65535:
            raise ValueError(f"ports {base_port}..{base_port + count - 1} do not all exist")
        if device_ids is not None and len(device_ids) != count:
            raise ValueError(f"expected {count} device ids, got {len(device_ids)}")
        prefix = secrets.token_hex(3)
        self._ids = list(device_ids or (f"sim-{prefix}-{n}" for n in range(1, count + 1)))
        self._names = [f"{name_prefix} {n}" for n in range(1, count + 1)]
        self._ports = [base_port + n if base_port else 0 for n in range(count)]
        self._host = host
        self._interfaces = list(interfaces) if interfaces else None
        self._size = (width, height)
        self._fps = fps
        self._audio = audio
        self._footage = footage
        self._zeroconf: AsyncZeroconf | None = None
        self.doorbells: list[SimulatedDoorbell] = []
        """The doorbells, in order, once `start` has run."""

    async def start(self) -> None:
        """Start every doorbell; if one fails, stop the others and raise its error."""
        if self._zeroconf is not None:
            raise RuntimeError("the simulator is already running")
        interfaces = _zeroconf_interfaces(self._host, self._interfaces)
        self._zeroconf = zeroconf = AsyncZeroconf(interfaces=interfaces)
        try:
            self.doorbells = [
                SimulatedDoorbell(
                    device_id,
                    name,
                    self._host,
                    port,
                    zeroconf=zeroconf,
                    interfaces=self._interfaces,
                    width=self._size[0],
                    height=self._size[1],
                    fps=self._fps,
                    audio=self._audio,
                    footage=self._footage,
                )
                for device_id, name, port in zip(self._ids, self._names, self._ports, strict=True)
            ]
        except BaseException:
            await self.stop()
            raise
        results = await asyncio.gather(
            *(doorbell.start() for doorbell in self.doorbells), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                await self.stop()
                raise result

    async def stop(self) -> None:
        """Stop every doorbell (mDNS goodbyes included) and close the shared zeroconf."""
        await asyncio.gather(*(doorbell.stop() for doorbell in self.doorbells))
        if self._zeroconf is not None:
            await self._zeroconf.async_close()
            self._zeroconf = None
