"""The group host's side: create a group, invite households, list and remove members.

The group admin's account must be a server administrator on the homeserver (registration tokens
are minted with Synapse's admin API). What the host made is kept in `group.json` next to the
account, so the other commands find the space and its rooms.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
from nio.api import RoomPreset
from nio.client.async_client import AsyncClient
from nio.responses import RoomCreateResponse, RoomGetStateResponse

from ..core.files import read_json, write_json_atomically
from . import account
from .account import checked
from .errors import MatrixError
from .event_types import (
    ADMIN_POWER,
    AGENCY,
    GROUP,
    MEGOLM,
    MEMBER,
    MEMBER_ROOMS,
    MODERATOR_POWER,
    ROOM_NAMES,
    TRANSPARENCY,
    GroupPolicy,
    InvalidContent,
    MemberRecord,
    group_content,
)
from .invite import Invite

GROUP_FILE: Final = "group.json"
INVITE_LIFETIME_S: Final = 7 * 24 * 3600
DEVICE_NAME: Final = "Doorward group host"


@dataclass
class HostedGroup:
    """The group this hub hosts: its space, its rooms and the invites not yet used."""

    name: str
    space_id: str
    rooms: dict[str, str]
    invites: dict[str, str] = field(default_factory=dict)
    """Reserved user id -> its registration token, until the member is removed."""

    def room_ids(self) -> list[str]:
        """The space first, then its rooms."""
        return [self.space_id, *self.rooms.values()]


@dataclass(frozen=True)
class GroupMember:
    """One account in the group's space, with its hub's record when it published one."""

    user_id: str
    membership: str
    record: MemberRecord | None


def _encryption_state() -> dict[str, Any]:
    return {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}


def _no_guests() -> dict[str, Any]:
    return {
        "type": "m.room.guest_access",
        "state_key": "",
        "content": {"guest_access": "forbidden"},
    }


def space_power_levels() -> dict[str, Any]:
    """Who may change what on the space: only admins set group, agency and report state;
    any member may publish its own `org.doorward.member` (state key = own id, which the server
    enforces)."""
    return {
        "events_default": ADMIN_POWER,
        "state_default": ADMIN_POWER,
        "invite": MODERATOR_POWER,
        "kick": MODERATOR_POWER,
        "ban": MODERATOR_POWER,
        "redact": MODERATOR_POWER,
        "events": {
            GROUP: ADMIN_POWER,
            AGENCY: ADMIN_POWER,
            TRANSPARENCY: ADMIN_POWER,
            MEMBER: 0,
            "m.space.child": ADMIN_POWER,
            "m.room.power_levels": ADMIN_POWER,
        },
    }


def room_power_levels() -> dict[str, Any]:
    """Members talk in a group room; only admins change its state or invite."""
    return {
        "events_default": 0,
        "state_default": ADMIN_POWER,
        "invite": MODERATOR_POWER,
        "kick": MODERATOR_POWER,
        "ban": MODERATOR_POWER,
        "redact": MODERATOR_POWER,
    }


class GroupHost:
    """The group admin's Matrix client and the group it hosts."""

    def __init__(self, folder: Path, client: AsyncClient) -> None:
        """Use a logged-in client whose account and group live in `folder`."""
        self.folder = folder
        self.client = client

    @classmethod
    async def sign_in(cls, folder: Path, homeserver: str, user: str, password: str) -> GroupHost:
        """Log in as the group admin (kept in `folder` for the next commands)."""
        return cls(folder, await account.login(folder, homeserver, user, password, DEVICE_NAME))

    @classmethod
    def restore(cls, folder: Path) -> GroupHost:
        """The group admin's kept login."""
        return cls(folder, account.restore(folder))

    async def close(self) -> None:
        """Close the client's connections."""
        await account.close(self.client)

    @property
    def server_name(self) -> str:
        """The homeserver's name, from the admin's user id."""
        return str(self.client.user_id).split(":", 1)[1]

    def group(self) -> HostedGroup:
        """The hosted group; `MatrixError` if none was created yet."""
        raw = read_json(self.folder / GROUP_FILE)
        if not isinstance(raw, dict):
            raise MatrixError("this hub hosts no group yet (run `doorward-hub group create`)")
        return HostedGroup(**raw)

    def _save(self, group: HostedGroup) -> None:
        write_json_atomically(self.folder / GROUP_FILE, asdict(group))

    async def create(self, name: str, policy: GroupPolicy) -> HostedGroup:
        """Create the space and its encrypted rooms, link them, and publish the group state."""
        if read_json(self.folder / GROUP_FILE) is not None:
            raise MatrixError(f"this hub already hosts the group {self.group().name!r}")
        space = checked(
            await self.client.room_create(
                name=name,
                topic=f"Doorward neighborhood group {name}",
                space=True,
                preset=RoomPreset.private_chat,
                initial_state=[_encryption_state(), _no_guests()],
                power_level_override=space_power_levels(),
            ),
            "creating the group's space",
        )
        assert isinstance(space, RoomCreateResponse)
        rooms: dict[str, str] = {}
        for order, room_name in enumerate(ROOM_NAMES):
            parent = {
                "type": "m.space.parent",
                "state_key": space.room_id,
                "content": {"via": [self.server_name], "canonical": True},
            }
            created = checked(
                await self.client.room_create(
                    name=f"{name}: {room_name}",
                    preset=RoomPreset.private_chat,
                    initial_state=[_encryption_state(), _no_guests(), parent],
                    power_level_override=room_power_levels(),
                ),
                f"creating the {room_name} room",
            )
            assert isinstance(created, RoomCreateResponse)
            rooms[room_name] = created.room_id
            checked(
                await self.client.room_put_state(
                    space.room_id,
                    "m.space.child",
                    {"via": [self.server_name], "order": f"{order:02d}-{room_name}"},
                    state_key=created.room_id,
                ),
                f"adding the {room_name} room to the space",
            )
        checked(
            await self.client.room_put_state(
                space.room_id, GROUP, group_content(name, policy, rooms)
            ),
            "publishing the group's policy",
        )
        group = HostedGroup(name=name, space_id=space.room_id, rooms=rooms)
        self._save(group)
        return group

    async def invite(self, homeserver_url: str | None = None) -> Invite:
        """Reserve an account for one household, invite it to the space and the member rooms,
        and mint the single-use registration token it will register with."""
        group = self.group()
        username = f"hub-{secrets.token_hex(5)}"
        user_id = f"@{username}:{self.server_name}"
        token = await self._registration_token()
        group.invites[user_id] = token
        self._save(group)
        for room_id in [group.space_id, *(group.rooms[name] for name in MEMBER_ROOMS)]:
            checked(await self.client.room_invite(room_id, user_id), f"inviting {user_id}")
        return Invite(
            homeserver=homeserver_url or str(self.client.homeserver),
            registration_token=token,
            username=username,
            space_id=group.space_id,
            group_name=group.name,
        )

    async def members(self) -> list[GroupMember]:
        """Everyone joined to or invited into the space (the admin included)."""
        group = self.group()
        state = checked(
            await self.client.room_get_state(group.space_id), "reading the space's members"
        )
        assert isinstance(state, RoomGetStateResponse)
        memberships: dict[str, str] = {}
        records: dict[str, MemberRecord] = {}
        for event in state.events:
            key = str(event.get("state_key", ""))
            if event.get("type") == "m.room.member":
                memberships[key] = str(event.get("content", {}).get("membership", ""))
            elif event.get("type") == MEMBER and event.get("sender") == key:
                try:
                    records[key] = MemberRecord.from_event(key, event.get("content"))
                except InvalidContent:
                    continue
        return [
            GroupMember(user_id, membership, records.get(user_id))
            for user_id, membership in sorted(memberships.items())
            if membership in ("join", "invite")
        ]

    async def remove(self, user_id: str, reason: str) -> None:
        """Take a member (or an unused invite) out of the space and every group room."""
        group = self.group()
        found = False
        for room_id in group.room_ids():
            state = await self.client.room_get_state_event(room_id, "m.room.member", user_id)
            membership = getattr(state, "content", {}).get("membership")
            if membership in ("join", "invite"):
                found = True
                checked(
                    await self.client.room_kick(room_id, user_id, reason),
                    f"removing {user_id}",
                )
        token = group.invites.pop(user_id, None)
        if token is not None:
            await self._admin("DELETE", f"registration_tokens/{token}", None, missing_ok=True)
            self._save(group)
        if not found and token is None:
            raise MatrixError(f"{user_id} is not a member of {group.name!r}")

    async def _registration_token(self) -> str:
        expiry_ms = int((time.time() + INVITE_LIFETIME_S) * 1000)
        answer = await self._admin(
            "POST", "registration_tokens/new", {"uses_allowed": 1, "expiry_time": expiry_ms}
        )
        return str(answer["token"])

    async def _admin(
        self, method: str, path: str, body: dict[str, Any] | None, *, missing_ok: bool = False
    ) -> dict[str, Any]:
        """Call Synapse's admin API as the group admin."""
        url = f"{self.client.homeserver}/_synapse/admin/v1/{path}"
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.request(method, url, json=body, headers=headers) as response,
            ):
                answer: dict[str, Any] = await response.json(content_type=None) or {}
                if response.status == 404 and missing_ok:
                    return {}
                if response.status != 200:
                    raise MatrixError(
                        f"the homeserver's admin API refused {path}: "
                        f"{answer.get('error', response.reason)} (the group admin must be a "
                        "server administrator)",
                        str(answer.get("errcode", "")),
                    )
                return answer
        except aiohttp.ClientError as err:
            raise MatrixError(f"cannot reach the homeserver: {err}") from err
