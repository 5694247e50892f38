"""A household hub joins, syncs exactly once across restarts, is removed, and leaves."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nio.client.async_client import AsyncClient
from nio.responses import DevicesResponse, ErrorResponse, LoginResponse

from doorward_hub.exports.identity_key import load_or_create
from doorward_hub.neighborhood import account
from doorward_hub.neighborhood.errors import MatrixError
from doorward_hub.neighborhood.event_types import GroupPolicy, MemberRecord
from doorward_hub.neighborhood.group_host import GroupHost
from doorward_hub.neighborhood.membership import TIMELINE_LIMIT, GroupEvent, Membership

from .conftest import synapse
from .element import PlainClient


@pytest.fixture
async def host(homeserver: Any, tmp_path: Path) -> AsyncIterator[GroupHost]:
    """A group host with a fresh group."""
    name = f"host-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    synapse.register(homeserver, name, password, admin=True)
    signed_in = await GroupHost.sign_in(tmp_path / "host", homeserver.url, name, password)
    await signed_in.create("Elm Street", GroupPolicy())
    yield signed_in
    await signed_in.close()


class Inbox:
    """A sink that stores events by id, as the hub's store does (idempotent)."""

    def __init__(self) -> None:
        """Start empty."""
        self.events: dict[str, GroupEvent] = {}
        self.deliveries: list[str] = []
        self.fail_after_store = False

    async def __call__(self, events: list[GroupEvent]) -> None:
        """Store, then (when asked) crash before the sync position is written."""
        for event in events:
            self.deliveries.append(event.event_id)
            self.events.setdefault(event.event_id, event)
        if self.fail_after_store:
            self.fail_after_store = False
            raise OSError("power cut after storing")

    def texts(self) -> list[str]:
        """Bodies of the feed's text messages, in order."""
        return [
            e.content["body"]
            for e in self.events.values()
            if e.room == "feed" and e.type == "m.room.message"
        ]


async def _sync_until(member: Membership, inbox: Inbox, texts: list[str]) -> None:
    for _ in range(20):
        await member.sync_once(inbox, timeout_ms=500)
        if inbox.texts() == texts:
            return
    assert inbox.texts() == texts


async def test_join_publishes_identity_and_survives_restarts(
    host: GroupHost, tmp_path: Path
) -> None:
    """Join from an invite; the record carries the identity key; restarts keep the device and
    deliver every message exactly once, even after a crash between storing and the position."""
    identity = load_or_create(tmp_path / "hub")
    record = MemberRecord("", identity.public_base64, identity.key_id, "Hub B")
    folder = tmp_path / "hub/neighborhood/member"
    member = await Membership.join(folder, await host.invite(), "Hub B", record)
    device_id = member.client.device_id
    assert member.group.name == "Elm Street"
    assert (folder / "account.json").stat().st_mode & 0o777 == 0o600
    assert (folder / "crypto").stat().st_mode & 0o777 == 0o700
    members = {m.user_id: m for m in await host.members()}
    published = members[member.client.user_id].record
    assert published is not None
    assert published.identity_key == identity.public_base64

    neighbor = await PlainClient.join(await host.invite(), tmp_path / "element")
    inbox = Inbox()
    try:
        await member.sync_once(inbox, timeout_ms=0)
        feed = member.group.rooms["feed"]
        await neighbor.say(feed, "one")
        await _sync_until(member, inbox, ["one"])
        messages = [e for e in inbox.events.values() if e.type == "m.room.message"]
        assert messages
        assert all(e.was_encrypted for e in messages)

        await member.close()
        await neighbor.say(feed, "two")
        await neighbor.say(feed, "three")
        member = Membership.restore(folder)
        assert member.client.device_id == device_id
        inbox.fail_after_store = True
        with pytest.raises(OSError, match="power cut"):
            await _sync_until(member, inbox, ["never"])
        await _sync_until(member, inbox, ["one", "two", "three"])
        assert len(set(inbox.deliveries)) < len(inbox.deliveries)  # the batch was replayed

        await member.close()
        member = Membership.restore(folder)
        # nio keeps no rooms across a restart: the first sync brings every room's state, so
        # the hub can send to a room that had nothing new (here, the requests room).
        await member.sync_once(inbox, timeout_ms=0)
        assert set(member.group.rooms.values()) <= set(member.client.rooms)
        await neighbor.say(feed, "four")
        await _sync_until(member, inbox, ["one", "two", "three", "four"])
        devices = await member.client.devices()
        assert isinstance(devices, DevicesResponse)
        assert [d.id for d in devices.devices] == [device_id]
    finally:
        await neighbor.close()
        await member.close()


async def test_removed_member_sees_why_and_leaving_forgets_the_device(
    host: GroupHost, tmp_path: Path
) -> None:
    """A removed hub stops with the admin's reason; leaving deletes the device and the keys."""
    folder = tmp_path / "member"
    invite = await host.invite()
    member = await Membership.join(folder, invite, "Hub C")
    await host.remove(member.client.user_id, "moved away")
    removal = await member.run(Inbox())
    assert removal.reason == "moved away"
    assert removal.by == host.client.user_id
    await member.close()

    restored = Membership.restore(folder)
    assert restored.removal == removal
    kept = json.loads((folder / "account.json").read_text())
    await restored.leave()
    assert not folder.exists()
    with pytest.raises(MatrixError, match="not a member"):
        Membership.restore(folder)

    # The device is gone from the homeserver, and its access token with it.
    old_token = AsyncClient(invite.homeserver, kept["user_id"])
    old_token.restore_login(kept["user_id"], kept["device_id"], kept["access_token"])
    fresh = AsyncClient(invite.homeserver, kept["user_id"])
    try:
        assert isinstance(await old_token.whoami(), ErrorResponse)
        assert isinstance(await fresh.login(kept["password"]), LoginResponse)
        devices = await fresh.devices()
        assert isinstance(devices, DevicesResponse)
        assert kept["device_id"] not in [d.id for d in devices.devices]
    finally:
        await old_token.close()  # type: ignore[no-untyped-call]
        await fresh.close()  # type: ignore[no-untyped-call]


async def test_long_outage_fills_the_gap(host: GroupHost, tmp_path: Path) -> None:
    """More messages than one sync returns arrive while the hub is down: after it comes back,
    the cut-short timeline is filled from the room's history, every message once, in order."""
    folder = tmp_path / "member"
    member = await Membership.join(folder, await host.invite(), "Hub D")
    neighbor = await PlainClient.join(await host.invite(), tmp_path / "element")
    inbox = Inbox()
    try:
        await member.sync_once(inbox, timeout_ms=0)
        await neighbor.say(member.group.rooms["feed"], "before")
        await _sync_until(member, inbox, ["before"])
        await member.close()
        texts = [f"while away {n}" for n in range(TIMELINE_LIMIT + 30)]
        for text in texts:
            await neighbor.say(member.group.rooms["feed"], text)
        member = Membership.restore(folder)
        await _sync_until(member, inbox, ["before", *texts])
        assert len(inbox.deliveries) == len(set(inbox.deliveries))
    finally:
        await neighbor.close()
        await member.close()


async def test_join_interrupted_after_registration_finishes_on_the_same_device(
    host: GroupHost, tmp_path: Path
) -> None:
    """A crash after the account was made (the token is spent) does not strand the hub: joining
    again with the same invite finishes the join on the device it already has."""
    folder = tmp_path / "member"
    invite = await host.invite()
    registered = await account.register(
        folder, invite.homeserver, invite.username, invite.registration_token, "Hub F"
    )
    device_id = registered.device_id
    await account.close(registered)
    member = await Membership.join(folder, invite, "Hub F")
    try:
        assert member.client.device_id == device_id
        assert member.group.name == "Elm Street"
    finally:
        await member.close()
