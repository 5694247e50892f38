"""A small typed client for the Doorward hub API, version 1 (docs/hub-api.md)."""

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, NoReturn, Protocol, Self

import aiohttp
from yarl import URL

API_PREFIX = "/api/v1"
STATUS_PENDING_APPROVAL = "pending_approval"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=15)
# Calls the hub answers only after its homeserver did (joining: register, join the rooms, publish
# the key; sharing: encrypt, upload, send): a loaded homeserver takes well over 15 s.
HOMESERVER_TIMEOUT = aiohttp.ClientTimeout(total=120)
# A relayed clip may take long to send; only connecting and each read are bounded.
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=15, sock_read=60)
CLIPS_PAGE_LIMIT = 500


class DoorwardError(Exception):
    """Base class of every error this client raises."""


class DoorwardConnectionError(DoorwardError):
    """The hub cannot be reached, or it failed to answer (5xx)."""


class DoorwardAuthenticationError(DoorwardError):
    """The token is missing, unknown or revoked (401 `unauthorized`, WebSocket close 4001)."""


class DoorwardInvalidCodeError(DoorwardError):
    """The pairing code is wrong, used or expired (401 `invalid_code`)."""


class DoorwardApiError(DoorwardError):
    """The hub refused the request (4xx), or the answer is not what API version 1 sends."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        """Keep the HTTP status and the hub's machine-readable error code."""
        super().__init__(message)
        self.status = status
        self.code = code


class DoorwardNotFoundError(DoorwardApiError):
    """404: unknown doorbell, no snapshot for an event, ..."""


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _time(data: Mapping[str, Any], key: str) -> datetime:
    """An ISO 8601 time with its offset (the hub writes UTC, `...Z`)."""
    value = datetime.fromisoformat(_str(data, key))
    if value.tzinfo is None:
        raise ValueError(f"{key} has no time zone")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} is not an integer")
    return value


@dataclass(frozen=True, slots=True)
class HubInfo:
    """`GET /api/v1/info`."""

    hub_id: str
    name: str
    version: str
    api_version: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse the hub's answer."""
        return cls(
            hub_id=_str(data, "hub_id"),
            name=_str(data, "name"),
            version=_str(data, "version"),
            api_version=_int(data, "api_version"),
        )


@dataclass(frozen=True, slots=True)
class PairingResult:
    """`POST /api/v1/pair`."""

    token: str
    token_id: str
    hub_id: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse the hub's answer."""
        return cls(
            token=_str(data, "token"), token_id=_str(data, "token_id"), hub_id=_str(data, "hub_id")
        )


@dataclass(frozen=True, slots=True)
class Doorbell:
    """A doorbell object of the hub API."""

    id: str
    name: str
    model: str
    driver: str
    host: str | None
    port: int | None
    capabilities: frozenset[str]
    status: str
    online: bool
    error: str | None
    last_seen: str | None
    privacy_mode: bool
    firmware: str | None

    @property
    def adopted(self) -> bool:
        """False while the doorbell waits for the owner's approval on the hub."""
        return self.status != STATUS_PENDING_APPROVAL

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse a doorbell object."""
        capabilities = data.get("capabilities") or []
        port = data.get("port")
        return cls(
            id=_str(data, "id"),
            name=_opt_str(data, "name") or _str(data, "id"),
            model=_opt_str(data, "model") or "",
            driver=_opt_str(data, "driver") or "",
            host=_opt_str(data, "host"),
            port=port if isinstance(port, int) else None,
            capabilities=frozenset(str(c) for c in capabilities),
            status=_str(data, "status"),
            online=bool(data.get("online", False)),
            error=_opt_str(data, "error"),
            last_seen=_opt_str(data, "last_seen"),
            privacy_mode=bool(data.get("privacy_mode", False)),
            firmware=_opt_str(data, "firmware"),
        )


@dataclass(frozen=True, slots=True)
class HubEvent:
    """An event object of the hub API."""

    seq: int
    doorbell_id: str
    type: str
    time: str
    device_time: float | None
    presses: int
    has_snapshot: bool
    button: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse an event object."""
        device_time = data.get("device_time")
        presses = data.get("presses", 1)
        return cls(
            seq=_int(data, "seq"),
            doorbell_id=_str(data, "doorbell_id"),
            type=_str(data, "type"),
            time=_str(data, "time"),
            device_time=float(device_time) if isinstance(device_time, int | float) else None,
            presses=presses if isinstance(presses, int) else 1,
            # Whether the hub stored a picture of the event (docs/hub-api.md, "Events").
            has_snapshot=bool(data.get("has_snapshot", False)),
            button=_opt_str(data, "button"),
        )


@dataclass(frozen=True, slots=True)
class Clip:
    """A clip object of the hub API (one recorded MP4 and its thumbnail)."""

    id: int
    doorbell_id: str
    trigger: str
    trigger_seq: int | None
    trigger_time: datetime
    start: datetime
    end: datetime
    duration: float
    size: int
    has_audio: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse a clip object."""
        trigger_seq = data.get("trigger_seq")
        duration = data.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            raise TypeError("duration is not a number")
        return cls(
            id=_int(data, "id"),
            doorbell_id=_str(data, "doorbell_id"),
            trigger=_str(data, "trigger"),
            trigger_seq=trigger_seq if isinstance(trigger_seq, int) else None,
            trigger_time=_time(data, "trigger_time"),
            start=_time(data, "start"),
            end=_time(data, "end"),
            duration=float(duration),
            size=_int(data, "size"),
            has_audio=bool(data.get("has_audio", False)),
        )


@dataclass(frozen=True, slots=True)
class ClipPage:
    """`GET /api/v1/clips`: newest first."""

    clips: list[Clip]
    more: bool


@dataclass(frozen=True, slots=True)
class EventPage:
    """`GET /api/v1/events`."""

    events: list[HubEvent]
    last_seq: int
    more: bool


@dataclass(frozen=True, slots=True)
class GroupRemoval:
    """Who removed the hub from its neighborhood group, and why."""

    by: str
    reason: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse a removal object."""
        return cls(by=_str(data, "by"), reason=_str(data, "reason"))


@dataclass(frozen=True, slots=True)
class GroupStatus:
    """`GET /api/v1/neighborhood`: the neighborhood group this hub is in, if any."""

    joined: bool
    group_name: str | None
    user_id: str | None
    home_cell: str | None
    removed: GroupRemoval | None
    member_count: int | None = None
    sync_error: str | None = None

    @property
    def in_group(self) -> bool:
        """Whether the hub has a group: joined, or removed by an admin and not left yet."""
        return self.group_name is not None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse a status object."""
        removed = data.get("removed")
        count = data.get("member_count")
        return cls(
            joined=bool(data["joined"]),
            group_name=_opt_str(data, "group_name"),
            user_id=_opt_str(data, "user_id"),
            home_cell=_opt_str(data, "home_cell"),
            removed=GroupRemoval.from_json(removed) if isinstance(removed, Mapping) else None,
            member_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
            sync_error=_opt_str(data, "sync_error"),
        )


@dataclass(frozen=True, slots=True)
class NeighborPost:
    """A post of the hub's neighborhood feed (`GET /api/v1/neighborhood/posts`)."""

    event_id: str
    sender: str
    sent_ms: int
    kind: str
    body: str
    message: str
    cells_from_home: int | None
    verified: bool
    verification: str
    has_video: bool
    has_thumbnail: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse a post object."""
        cells = data.get("cells_from_home")
        if isinstance(cells, bool) or not isinstance(cells, int):
            cells = None
        return cls(
            event_id=_str(data, "event_id"),
            sender=_str(data, "sender"),
            sent_ms=_int(data, "sent_ms"),
            kind=_str(data, "kind"),
            body=_str(data, "body"),
            message=_str(data, "message"),
            cells_from_home=cells
            if isinstance(cells, int) and not isinstance(cells, bool)
            else None,
            verified=bool(data["verified"]),
            verification=_str(data, "verification"),
            has_video=bool(data.get("has_video", False)),
            has_thumbnail=bool(data.get("has_thumbnail", False)),
        )


@dataclass(frozen=True, slots=True)
class ShareResult:
    """`POST /api/v1/clips/{id}/share`."""

    export_id: str
    event_id: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Parse the hub's answer."""
        return cls(export_id=_str(data, "export_id"), event_id=_str(data, "event_id"))


def _describe(err: Exception) -> str:
    """A short reason for a failed connection."""
    if isinstance(err, TimeoutError):
        return "timed out"
    return str(err) or type(err).__name__


class _FromJson(Protocol):
    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self: ...


def parse[T: _FromJson](model: type[T], data: Any) -> T:
    """Parse `data` with `model.from_json`, turning malformed input into `DoorwardApiError`."""
    if not isinstance(data, Mapping):
        raise DoorwardApiError(f"malformed {model.__name__}: not an object")
    try:
        return model.from_json(data)
    except (KeyError, TypeError, ValueError) as err:
        raise DoorwardApiError(f"malformed {model.__name__}: {err}") from err


class DoorwardClient:
    """Talks to one hub over HTTP with a shared aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int,
        token: str | None = None,
    ) -> None:
        """Use `session` (Home Assistant's shared one) for every request."""
        self._session = session
        self.host = host
        self.port = port
        self._token = token
        self.base_url = URL.build(scheme="http", host=host, port=port)

    def url(self, path: str, **query: str) -> URL:
        """The absolute URL of an API path (`/doorbells`), with an optional query."""
        url = self.base_url.with_path(API_PREFIX + path)
        return url.with_query(query) if query else url

    def video_url(self, doorbell_id: str) -> str:
        """The live video of a doorbell, authenticated by the token in the query string.

        Meant for media players (Home Assistant's stream worker) that cannot set headers.
        """
        if self._token is None:
            raise DoorwardAuthenticationError("no token")
        return str(self.url(f"/doorbells/{doorbell_id}/video", token=self._token))

    def _headers(self, auth: bool) -> dict[str, str]:
        if not auth:
            return {}
        if self._token is None:
            raise DoorwardAuthenticationError("no token")
        return {"Authorization": f"Bearer {self._token}"}

    async def _request(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        time_limit: aiohttp.ClientTimeout = REQUEST_TIMEOUT,
    ) -> tuple[bytes, str]:
        url = self.url(path, **(query or {}))
        try:
            async with self._session.request(
                method, url, headers=self._headers(auth), json=body, timeout=time_limit
            ) as response:
                content = await response.read()
                status = response.status
                content_type = response.content_type
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DoorwardConnectionError(_describe(err)) from err
        if status >= HTTPStatus.BAD_REQUEST:
            self._raise_for_error(status, content, content_type)
        return content, content_type

    @staticmethod
    def _raise_for_error(status: int, body: bytes, content_type: str) -> NoReturn:
        code: str | None = None
        message = f"HTTP {status}"
        if content_type == "application/json":
            try:
                error = json.loads(body)
            except ValueError:
                error = None
            if isinstance(error, dict):
                code = error.get("error") if isinstance(error.get("error"), str) else None
                message = f"HTTP {status} {code}: {error.get('message', '')}".rstrip(": ")
        if status == HTTPStatus.UNAUTHORIZED:
            if code == "invalid_code":
                raise DoorwardInvalidCodeError(message)
            raise DoorwardAuthenticationError(message)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise DoorwardConnectionError(message)
        if status == HTTPStatus.NOT_FOUND:
            raise DoorwardNotFoundError(message, status=status, code=code)
        raise DoorwardApiError(message, status=status, code=code)

    async def _json(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        time_limit: aiohttp.ClientTimeout = REQUEST_TIMEOUT,
    ) -> Any:
        content, content_type = await self._request(
            method, path, auth=auth, body=body, query=query, time_limit=time_limit
        )
        if content_type != "application/json":
            raise DoorwardApiError(f"expected JSON from {path}, got {content_type or 'nothing'}")
        try:
            return json.loads(content)
        except ValueError as err:
            raise DoorwardApiError(f"invalid JSON from {path}") from err

    async def _jpeg(self, path: str) -> bytes:
        content, content_type = await self._request("GET", path)
        if content_type != "image/jpeg":
            raise DoorwardApiError(f"expected a JPEG from {path}, got {content_type or 'nothing'}")
        return content

    async def info(self) -> HubInfo:
        """The hub's identity (no authentication needed)."""
        info = parse(HubInfo, await self._json("GET", "/info", auth=False))
        if info.api_version != 1:
            raise DoorwardApiError(f"the hub speaks API version {info.api_version}, not 1")
        return info

    async def pair(self, code: str, client_name: str) -> PairingResult:
        """Exchange a one-time pairing code for a token. The client keeps using its own token."""
        body = {"code": code, "client_name": client_name}
        return parse(PairingResult, await self._json("POST", "/pair", auth=False, body=body))

    async def doorbells(self) -> list[Doorbell]:
        """Every doorbell the hub knows."""
        data = await self._json("GET", "/doorbells")
        items = data.get("doorbells") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise DoorwardApiError("malformed doorbell list")
        return [parse(Doorbell, item) for item in items]

    async def set_privacy_mode(self, doorbell_id: str, enabled: bool) -> Doorbell:
        """Switch a doorbell's privacy mode; the updated doorbell."""
        data = await self._json(
            "PATCH", f"/doorbells/{doorbell_id}", body={"privacy_mode": enabled}
        )
        return parse(Doorbell, data)

    async def set_credentials(self, doorbell_id: str, username: str, password: str) -> Doorbell:
        """Hand the hub a doorbell's device credentials (DoorBird); the doorbell as it
        reconnects with them (its status tells later whether the device accepts them)."""
        data = await self._json(
            "PUT",
            f"/doorbells/{doorbell_id}/credentials",
            body={"username": username, "password": password},
        )
        return parse(Doorbell, data)

    async def events(self, after: int = 0, limit: int = 100) -> EventPage:
        """A page of stored events (oldest first) and the hub's highest seq."""
        data = await self._json("GET", "/events", query={"after": str(after), "limit": str(limit)})
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise DoorwardApiError("malformed event page")
        try:
            last_seq = _int(data, "last_seq")
        except (KeyError, TypeError) as err:
            raise DoorwardApiError("malformed event page") from err
        return EventPage(
            events=[parse(HubEvent, item) for item in data["events"]],
            last_seq=last_seq,
            more=bool(data.get("more", False)),
        )

    async def revoke_token(self, token_id: str) -> None:
        """Revoke a client token (this client's own, when it is removed)."""
        await self._request("DELETE", f"/tokens/{token_id}")

    async def snapshot(self, doorbell_id: str) -> bytes:
        """The doorbell's current picture (JPEG), fetched from the device by the hub."""
        return await self._jpeg(f"/doorbells/{doorbell_id}/snapshot")

    async def event_snapshot(self, seq: int) -> bytes:
        """The picture the hub took when event `seq` happened (JPEG)."""
        return await self._jpeg(f"/events/{seq}/snapshot")

    async def clips(
        self,
        *,
        doorbell_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> ClipPage:
        """A page of clips, newest first (`since`/`until`: Unix seconds the clips overlap)."""
        query = {"limit": str(limit)}
        if doorbell_id is not None:
            query["doorbell"] = doorbell_id
        if since is not None:
            query["since"] = str(since)
        if until is not None:
            query["until"] = str(until)
        if before is not None:
            query["before"] = str(before)
        data = await self._json("GET", "/clips", query=query)
        if not isinstance(data, dict) or not isinstance(data.get("clips"), list):
            raise DoorwardApiError("malformed clip page")
        return ClipPage(
            clips=[parse(Clip, item) for item in data["clips"]],
            more=bool(data.get("more", False)),
        )

    async def all_clips(
        self, doorbell_id: str, *, since: float | None = None, until: float | None = None
    ) -> list[Clip]:
        """Every clip of a doorbell (in the time range), newest first, page after page."""
        clips: list[Clip] = []
        before: int | None = None
        while True:
            page = await self.clips(
                doorbell_id=doorbell_id,
                since=since,
                until=until,
                before=before,
                limit=CLIPS_PAGE_LIMIT,
            )
            clips.extend(page.clips)
            if not page.more or not page.clips:
                return clips
            before = page.clips[-1].id

    async def clip(self, clip_id: int) -> Clip:
        """One clip (`DoorwardNotFoundError` if the hub has no such clip)."""
        return parse(Clip, await self._json("GET", f"/clips/{clip_id}"))

    async def record(self, doorbell_id: str, duration: float) -> None:
        """Ask the hub to record a clip now: pre-roll plus `duration` seconds.

        The hub answers 409 `doorbell_unavailable` when it cannot (offline, privacy mode,
        recording disabled); the clip itself arrives later as a `clip` push message.
        """
        await self._json("POST", f"/doorbells/{doorbell_id}/record", body={"duration": duration})

    async def neighborhood(self) -> GroupStatus:
        """The neighborhood group this hub is in (or that it is in none)."""
        return parse(GroupStatus, await self._json("GET", "/neighborhood"))

    async def join_group(self, invite: str) -> GroupStatus:
        """Join the group of an invite (`doorward-invite:...`) a group admin gave."""
        body = {"invite": invite}
        joined = await self._json(
            "POST", "/neighborhood/join", body=body, time_limit=HOMESERVER_TIMEOUT
        )
        return parse(GroupStatus, joined)

    async def leave_group(self) -> None:
        """Leave the group: the hub's Matrix device and the group's clips on the hub go."""
        await self._request("POST", "/neighborhood/leave")

    async def set_home(self, latitude: float, longitude: float) -> str:
        """Tell the hub where home is; it keeps only the coarse cell, which it returns."""
        body = {"latitude": latitude, "longitude": longitude}
        data = await self._json("PUT", "/neighborhood/home", body=body)
        if not isinstance(data, dict) or not isinstance(data.get("home_cell"), str):
            raise DoorwardApiError("malformed home answer")
        return str(data["home_cell"])

    async def neighbor_posts(self, limit: int = 50) -> list[NeighborPost]:
        """The newest posts of the group's feed."""
        data = await self._json("GET", "/neighborhood/posts", query={"limit": str(limit)})
        items = data.get("posts") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise DoorwardApiError("malformed post list")
        return [parse(NeighborPost, item) for item in items]

    async def neighbor_post(self, event_id: str) -> NeighborPost:
        """One post of the group's feed (`DoorwardNotFoundError` if the hub has no such post)."""
        return parse(NeighborPost, await self._json("GET", f"/neighborhood/posts/{event_id}"))

    async def share_clip(self, clip_id: int, message: str) -> ShareResult:
        """Share one clip with the group: call this only for a person's explicit decision."""
        data = await self._json(
            "POST",
            f"/clips/{clip_id}/share",
            body={"message": message},
            time_limit=HOMESERVER_TIMEOUT,
        )
        return parse(ShareResult, data)

    @contextlib.asynccontextmanager
    async def open_stream(
        self, path: str, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A GET whose body the caller reads as it arrives (a clip's video, a thumbnail).

        Errors (4xx, 5xx) raise like every other call; 200 and 206 are handed over.
        """
        try:
            response = await self._session.get(
                self.url(path),
                headers={**(headers or {}), **self._headers(True)},
                timeout=STREAM_TIMEOUT,
            )
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DoorwardConnectionError(_describe(err)) from err
        async with response:
            if response.status >= HTTPStatus.BAD_REQUEST:
                try:
                    content = await response.read()
                except (aiohttp.ClientError, TimeoutError) as err:
                    raise DoorwardConnectionError(_describe(err)) from err
                self._raise_for_error(response.status, content, response.content_type)
            yield response

    async def ws_connect(self, after: int, heartbeat: float) -> aiohttp.ClientWebSocketResponse:
        """Open the push channel, replaying the events and clip messages after seq `after`."""
        try:
            return await self._session.ws_connect(
                self.url("/ws", after=str(after)),
                headers=self._headers(True),
                heartbeat=heartbeat,
                timeout=aiohttp.ClientWSTimeout(ws_close=10),
            )
        except aiohttp.WSServerHandshakeError as err:
            if err.status == HTTPStatus.UNAUTHORIZED:
                raise DoorwardAuthenticationError("the hub refused the token") from err
            raise DoorwardConnectionError(
                f"WebSocket refused by the hub: HTTP {err.status}"
            ) from err
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DoorwardConnectionError(_describe(err)) from err
