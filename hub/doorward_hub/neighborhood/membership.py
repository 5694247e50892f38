"""The household hub's membership in a group: join from an invite, sync, leave.

Delivery is exactly once across restarts: each sync batch's events go to the caller's sink
(which stores them keyed by event id), and only then is the batch's sync token written down.
A crash in between replays the batch, and the sink ignores what it already has. When a room's
timeline was cut short (the hub was away for long), the gap is filled from the room's history
before the batch is handed over. Events whose keys have not arrived yet are kept and retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from nio.api import MessageDirection
from nio.client.async_client import AsyncClient
from nio.events.room_events import MegolmEvent
from nio.exceptions import EncryptionError
from nio.responses import (
    ErrorResponse,
    JoinedMembersResponse,
    RoomGetStateEventResponse,
    RoomMessagesResponse,
    SyncResponse,
)

from ..core.files import read_json, write_json_atomically
from . import account
from .account import checked
from .errors import MatrixError
from .event_types import GROUP, MEMBER, MEMBER_ROOMS, MemberRecord
from .invite import Invite

_LOGGER = logging.getLogger(__name__)

GROUP_FILE: Final = "group.json"
SYNC_FILE: Final = "sync.json"
UNDECRYPTED_FILE: Final = "undecrypted.json"
SYNC_TIMEOUT_MS: Final = 30_000
TIMELINE_LIMIT: Final = 100
RETRY_DELAYS: Final = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
SYNC_FILTER: Final[dict[str, Any]] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {"timeline": {"limit": TIMELINE_LIMIT}, "ephemeral": {"not_types": ["*"]}},
}


@dataclass(frozen=True)
class GroupEvent:
    """One event of a group room, decrypted, as the rest of the hub sees it."""

    room: str
    """Which of the group's rooms: `space`, `feed` or `requests`."""
    room_id: str
    event_id: str
    sender: str
    timestamp_ms: int
    type: str
    content: dict[str, Any]
    was_encrypted: bool
    state_key: str | None = None
    sender_key: str | None = None
    """The sending device's Curve25519 key, for decrypted events (checks who really sent it)."""


@dataclass(frozen=True)
class Removal:
    """Why this hub is no longer in the group (the household is shown this)."""

    by: str
    reason: str


@dataclass
class JoinedGroup:
    """The group this hub is a member of, as kept in `group.json`."""

    name: str
    space_id: str
    rooms: dict[str, str]
    user_id: str
    removed: dict[str, str] | None = None
    room_names: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        """Index the rooms by id."""
        self.room_names = {self.space_id: "space"} | {v: k for k, v in self.rooms.items()}

    def to_json(self) -> dict[str, Any]:
        """What `group.json` holds."""
        data = asdict(self)
        del data["room_names"]
        return data


type EventSink = Callable[[list[GroupEvent]], Awaitable[None]]


class Membership:
    """One household hub's Matrix client in one group."""

    def __init__(self, folder: Path, client: AsyncClient, group: JoinedGroup) -> None:
        """Use a logged-in client and the group kept in `folder`."""
        self.folder = folder
        self.client = client
        self.group = group
        self.member_count: int | None = None
        """How many accounts (hubs and people, admins too) are joined to the group's space;
        None until the first sync after start asked the homeserver."""
        self._state_loaded = False
        """Whether a sync since start carried every joined room's full state: nio keeps no
        rooms across restarts, and it cannot send to a room it does not hold."""

    @classmethod
    async def join(
        cls, folder: Path, invite: Invite, hub_name: str, record: MemberRecord | None = None
    ) -> Membership:
        """Register with the invite's token, join the space and the member rooms, and publish
        the hub's member record. Running it again after a crash finishes the same join."""
        known = read_json(folder / GROUP_FILE)
        if isinstance(known, dict) and known.get("space_id") != invite.space_id:
            raise MatrixError(f"this hub is already a member of {known.get('name')!r}")
        client = await account.register(
            folder, invite.homeserver, invite.username, invite.registration_token, hub_name
        )
        try:
            checked(await client.join(invite.space_id), f"joining {invite.group_name!r}")
            policy = checked(
                await client.room_get_state_event(invite.space_id, GROUP),
                "reading the group's rooms",
            )
            assert isinstance(policy, RoomGetStateEventResponse)
            rooms = {name: str(policy.content["rooms"][name]) for name in MEMBER_ROOMS}
            for name, room_id in rooms.items():
                checked(await client.join(room_id), f"joining the group's {name} room")
            group = JoinedGroup(str(policy.content["name"]), invite.space_id, rooms, client.user_id)
            membership = cls(folder, client, group)
            membership._save_group()
            await account.prepare_encryption(client)
            if record is not None:
                await membership.publish(record)
        except BaseException:
            await account.close(client)
            raise
        return membership

    @classmethod
    def restore(cls, folder: Path) -> Membership:
        """The kept membership: same account, same device, same crypto store."""
        raw = read_json(folder / GROUP_FILE)
        if not isinstance(raw, dict):
            raise MatrixError("this hub is not a member of a group")
        return cls(folder, account.restore(folder), JoinedGroup(**raw))

    async def close(self) -> None:
        """Close the client's connections (the membership stays)."""
        await account.close(self.client)

    @property
    def removal(self) -> Removal | None:
        """Set once a group admin removed this hub."""
        return Removal(**self.group.removed) if self.group.removed else None

    async def publish(self, record: MemberRecord) -> None:
        """Publish (or update) this hub's `org.doorward.member` record in the space."""
        checked(
            await self.client.room_put_state(
                self.group.space_id, MEMBER, record.to_content(), state_key=self.client.user_id
            ),
            "publishing the hub's member record",
        )

    async def sync_once(self, sink: EventSink, timeout_ms: int = SYNC_TIMEOUT_MS) -> None:
        """One sync: hand the new events to `sink`, then write down the position."""
        since = self._sync_token()
        # nio skips (and so does not decrypt) a response whose position it saw last; after a
        # crash before the position was written, that is exactly the batch to replay. The first
        # sync since start (full state) must be read even when nothing new came.
        self.client.next_batch = (since or "") if self._state_loaded else ""
        response = await self.client.sync(
            timeout=timeout_ms,
            sync_filter=SYNC_FILTER,
            since=since,
            full_state=since is None or not self._state_loaded,
        )
        if isinstance(response, ErrorResponse):
            raise MatrixError(f"sync: {response.message}", str(response.status_code or ""))
        assert isinstance(response, SyncResponse)
        events = self._retry_undecrypted()
        for room_id, info in response.rooms.join.items():
            name = self.group.room_names.get(room_id)
            if name is None:
                continue
            timeline: list[Any] = list(info.timeline.events)
            if info.timeline.limited and since and info.timeline.prev_batch:
                timeline = [
                    *await self._backfill(room_id, info.timeline.prev_batch, since),
                    *timeline,
                ]
            events.extend(self._accept(name, room_id, timeline))
        self._note_removal(response)
        await self._count_members(response)
        if events:
            await sink(events)
        self._save_sync_token(response.next_batch)
        self._state_loaded = True
        await self._maintain_keys()

    async def run(self, sink: EventSink, synced: Callable[[], None] = lambda: None) -> Removal:
        """Sync until the hub is removed from the group (or the task is cancelled); retries
        with growing pauses while the homeserver cannot be reached, the first sync too. That
        one returns at once (the hub has caught up when it ends); later ones long-poll.
        `synced` is called after each sync (the status may have changed)."""
        failures = 0
        timeout_ms = 0
        while self.removal is None:
            try:
                await self.sync_once(sink, timeout_ms=timeout_ms)
                failures, timeout_ms = 0, SYNC_TIMEOUT_MS
                synced()
            except Exception as err:  # an outage, or a fault a peer's event provoked
                if isinstance(err, MatrixError) and err.errcode == "M_UNKNOWN_TOKEN":
                    raise
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                _LOGGER.warning(
                    "group sync failed (%r); retrying in %.0f s",
                    err,
                    delay,
                    exc_info=not isinstance(err, MatrixError | OSError | TimeoutError),
                )
                await asyncio.sleep(delay)
        return self.removal

    async def leave(self) -> None:
        """Leave every group room, delete this device on the homeserver, forget the keys."""
        for room_id in [*self.group.rooms.values(), self.group.space_id]:
            left = await self.client.room_leave(room_id)
            if isinstance(left, ErrorResponse) and self.removal is None:
                checked(left, "leaving the group")
            await self.client.room_forget(room_id)
        await account.forget(self.folder, self.client)

    async def _backfill(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """The events between the last position and a cut-short timeline, oldest first."""
        older: list[Any] = []
        start = prev_batch
        while True:
            page = checked(
                await self.client.room_messages(
                    room_id, start, end=since, direction=MessageDirection.back, limit=100
                ),
                "reading the group's history",
            )
            assert isinstance(page, RoomMessagesResponse)
            older.extend(page.chunk)
            if not page.chunk or not page.end or page.end == start:
                break
            start = page.end
        older.reverse()
        return older

    def _accept(self, room: str, room_id: str, timeline: list[Any]) -> list[GroupEvent]:
        accepted: list[GroupEvent] = []
        pending: list[dict[str, Any]] = []
        for event in timeline:
            if isinstance(event, MegolmEvent):
                pending.append({"room": room, "room_id": room_id, "source": event.source})
                continue
            converted = _group_event(room, room_id, event)
            if converted is not None:
                accepted.append(converted)
        if pending:
            kept = read_json(self.folder / UNDECRYPTED_FILE) or []
            known = {item["source"].get("event_id") for item in kept}
            fresh = [item for item in pending if item["source"].get("event_id") not in known]
            write_json_atomically(self.folder / UNDECRYPTED_FILE, [*kept, *fresh])
        return accepted

    def _retry_undecrypted(self) -> list[GroupEvent]:
        """Events whose room keys arrived since they were seen."""
        kept: list[dict[str, Any]] = read_json(self.folder / UNDECRYPTED_FILE) or []
        if not kept:
            return []
        decrypted: list[GroupEvent] = []
        still: list[dict[str, Any]] = []
        for item in kept:
            event = MegolmEvent.from_dict(item["source"])
            event.room_id = item["room_id"]
            try:
                plain = self.client.decrypt_event(event)
            except EncryptionError:  # the room key has still not arrived
                still.append(item)
                continue
            converted = _group_event(item["room"], item["room_id"], plain)
            if converted is not None:
                decrypted.append(converted)
        write_json_atomically(self.folder / UNDECRYPTED_FILE, still)
        return decrypted

    def _note_removal(self, response: SyncResponse) -> None:
        info = response.rooms.leave.get(self.group.space_id)
        if info is None:
            return
        for event in reversed(info.timeline.events):
            source = event.source
            if source.get("type") == "m.room.member" and source.get("state_key") == (
                self.client.user_id
            ):
                content = source.get("content", {})
                if source.get("sender") == self.client.user_id:
                    return  # we left ourselves
                self.group.removed = {
                    "by": str(source.get("sender", "")),
                    "reason": str(content.get("reason", "")),
                }
                self._save_group()
                return

    async def _count_members(self, response: SyncResponse) -> None:
        """Ask the homeserver for the space's joined members when the count is not known yet
        or the space's membership changed in this sync (and forget it once removed)."""
        if self.removal is not None:
            self.member_count = None
            return
        space = response.rooms.join.get(self.group.space_id)
        changed = space is not None and any(
            getattr(event, "source", {}).get("type") == "m.room.member"
            for event in [*space.state, *space.timeline.events]
        )
        if self.member_count is not None and not changed:
            return
        members = await self.client.joined_members(self.group.space_id)
        if isinstance(members, JoinedMembersResponse):
            self.member_count = len(members.members)
        else:
            _LOGGER.warning("could not count the group's members: %s", members)

    async def _maintain_keys(self) -> None:
        if self.client.should_upload_keys:
            checked(await self.client.keys_upload(), "uploading device keys")
        if self.client.should_query_keys:
            checked(await self.client.keys_query(), "fetching members' device keys")

    def _sync_token(self) -> str | None:
        raw = read_json(self.folder / SYNC_FILE)
        return str(raw["next_batch"]) if isinstance(raw, dict) else None

    def _save_sync_token(self, token: str) -> None:
        write_json_atomically(self.folder / SYNC_FILE, {"next_batch": token})

    def _save_group(self) -> None:
        write_json_atomically(self.folder / GROUP_FILE, self.group.to_json())


def _group_event(room: str, room_id: str, event: Any) -> GroupEvent | None:
    source = getattr(event, "source", None)
    if not isinstance(source, dict) or "event_id" not in source or "type" not in source:
        return None
    content = source.get("content")
    decrypted = bool(getattr(event, "decrypted", False))
    return GroupEvent(
        room=room,
        room_id=room_id,
        event_id=str(source["event_id"]),
        sender=str(source.get("sender", "")),
        timestamp_ms=int(source.get("origin_server_ts", 0)),
        type=str(source["type"]),
        content=content if isinstance(content, dict) else {},
        was_encrypted=decrypted,
        state_key=source.get("state_key"),
        sender_key=getattr(event, "sender_key", None) if decrypted else None,
    )
