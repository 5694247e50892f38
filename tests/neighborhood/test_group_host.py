"""The group host's commands against a real Synapse: create, invite, members, remove."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, ErrorResponse, JoinResponse, RoomGetStateResponse

from doorward_hub.neighborhood import account
from doorward_hub.neighborhood.errors import MatrixError
from doorward_hub.neighborhood.event_types import GROUP, MEGOLM, MEMBER, GroupPolicy
from doorward_hub.neighborhood.group_host import GroupHost
from doorward_hub.neighborhood.invite import Invite

from .conftest import synapse


@pytest.fixture
async def host(homeserver: Any, tmp_path: Path) -> AsyncIterator[GroupHost]:
    """A group host signed in as a fresh server admin, with a group created."""
    name = f"host-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    synapse.register(homeserver, name, password, admin=True)
    signed_in = await GroupHost.sign_in(tmp_path / "host", homeserver.url, name, password)
    await signed_in.create("Elm Street", GroupPolicy(max_request_window_minutes=360))
    yield signed_in
    await signed_in.close()


async def _state(client: AsyncClient, room_id: str) -> list[dict[str, Any]]:
    response = await client.room_get_state(room_id)
    assert isinstance(response, RoomGetStateResponse), response
    return list(response.events)


def _content(events: list[dict[str, Any]], kind: str, key: str = "") -> dict[str, Any]:
    return next(e["content"] for e in events if e["type"] == kind and e["state_key"] == key)


async def test_create_makes_an_encrypted_space_with_policy(host: GroupHost) -> None:
    """Space and all three rooms are encrypted and linked; the policy is in the space state."""
    group = host.group()
    assert set(group.rooms) == {"feed", "requests", "admins"}
    space = await _state(host.client, group.space_id)
    create = _content(space, "m.room.create")
    assert create["type"] == "m.space"
    assert _content(space, GROUP)["policy"]["max_request_window_minutes"] == 360
    assert _content(space, GROUP)["rooms"] == group.rooms
    children = {e["state_key"] for e in space if e["type"] == "m.space.child"}
    assert children == set(group.rooms.values())
    for room_id in group.room_ids():
        events = await _state(host.client, room_id)
        assert _content(events, "m.room.encryption")["algorithm"] == MEGOLM
        assert _content(events, "m.room.join_rules")["join_rule"] == "invite"
        assert _content(events, "m.room.guest_access")["guest_access"] == "forbidden"
    with pytest.raises(MatrixError, match="already hosts"):
        await host.create("Again", GroupPolicy())
    stored = host.folder / "account.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert (host.folder / "crypto").stat().st_mode & 0o777 == 0o700


async def test_invite_join_members_remove(host: GroupHost, tmp_path: Path) -> None:
    """An invite is one string; the household registers with it once, joins, and can be removed;
    a member may publish its own record but not the group's policy nor another's record."""
    invite = Invite.decode((await host.invite()).encode())
    assert invite.space_id == host.group().space_id
    user_id = f"@{invite.username}:{host.server_name}"
    assert {m.user_id: m.membership for m in await host.members()}[user_id] == "invite"

    household = await account.register(
        tmp_path / "household", invite.homeserver, invite.username, invite.registration_token, "B"
    )
    try:
        assert household.user_id == user_id
        for room_id in [invite.space_id, *(host.group().rooms[n] for n in ("feed", "requests"))]:
            assert not isinstance(await household.join(room_id), ErrorResponse)
        assert not isinstance(await household.join(host.group().rooms["admins"]), JoinResponse)
        own = await household.room_put_state(
            invite.space_id, MEMBER, {"identity_key": "k", "key_id": "ed25519:x"}, user_id
        )
        assert not isinstance(own, ErrorResponse), own
        other = await household.room_put_state(
            invite.space_id, MEMBER, {"identity_key": "k", "key_id": "x"}, str(host.client.user_id)
        )
        assert isinstance(other, ErrorResponse)
        policy = await household.room_put_state(invite.space_id, GROUP, {"name": "mine"})
        assert isinstance(policy, ErrorResponse)

        members = {m.user_id: m for m in await host.members()}
        assert members[user_id].membership == "join"
        assert members[user_id].record is not None
        assert members[user_id].record.identity_key == "k"

        await host.remove(user_id, "moved away")
        assert user_id not in {m.user_id for m in await host.members()}
        with pytest.raises(MatrixError, match="not a member"):
            await host.remove(user_id, "again")
    finally:
        await household.close()

    # The token was single-use: a second household cannot reuse it.
    with pytest.raises(MatrixError, match="registration token"):
        await account.register(
            tmp_path / "other", invite.homeserver, "someone", invite.registration_token, "C"
        )


async def test_removing_an_unused_invite_revokes_its_token(host: GroupHost, tmp_path: Path) -> None:
    """Removing an invited household before it joined withdraws the invite and the token."""
    invite = await host.invite()
    await host.remove(f"@{invite.username}:{host.server_name}", "sent to the wrong house")
    with pytest.raises(MatrixError, match="registration token"):
        await account.register(
            tmp_path / "late", invite.homeserver, invite.username, invite.registration_token, "D"
        )
