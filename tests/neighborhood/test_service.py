"""The household hub's neighborhood service: join, share, receive, leave, and its errors."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from doorward_hub.audit.log import AuditLog
from doorward_hub.exports.clip import ExportClip
from doorward_hub.exports.identity_key import load_or_create
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.neighborhood.group_host import GroupHost
from doorward_hub.neighborhood.invite import Invite
from doorward_hub.neighborhood.items import Comment, NeighborPost
from doorward_hub.neighborhood.layout import membership_folder
from doorward_hub.neighborhood.service import NeighborhoodError, NeighborhoodService

from ..support import LOOPBACK, free_port, wait_for
from .conftest import Connections, synapse
from .media import make_clip


@pytest.fixture
async def host(homeserver: Any, tmp_path: Path) -> AsyncIterator[GroupHost]:
    """A group host with a group whose exports may be kept 14 days."""
    name = f"host-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    synapse.register(homeserver, name, password, admin=True)
    signed_in = await GroupHost.sign_in(tmp_path / "host", homeserver.url, name, password)
    await signed_in.create("Elm Street", GroupPolicy(max_export_retention_days=14))
    yield signed_in
    await signed_in.close()


class ClipsById:
    """Made clips, found by id or by time as the recording library finds them."""

    def __init__(self, clips: dict[str, ExportClip]) -> None:
        """Serve `clips`."""
        self.clips = clips

    async def __call__(self, clip_id: str) -> ExportClip | None:
        """One clip by id."""
        return self.clips.get(clip_id)

    async def between(self, start_ms: int, end_ms: int) -> list[ExportClip]:
        """Clips overlapping the window, oldest first."""
        found = [c for c in self.clips.values() if c.end_ms >= start_ms and c.start_ms <= end_ms]
        return sorted(found, key=lambda c: c.start_ms)


async def _service(data_dir: Path, name: str, clips: dict[str, ExportClip]) -> NeighborhoodService:
    lookup = ClipsById(clips)
    service = NeighborhoodService(
        data_dir,
        hub_name=name,
        identity=load_or_create(data_dir),
        audit=await AuditLog.open(data_dir),
        clips=lookup,
        received_retention_days=7,
    )
    await service.start()
    return service


async def test_join_share_receive_leave(
    host: GroupHost, homeserver: Any, tmp_path: Path, connections: Connections
) -> None:
    """Two hubs join with pasted invites; A shares a clip by id; B's listener gets it verified;
    only the homeserver is ever contacted; B leaves and forgets the group."""
    clip = make_clip(tmp_path / "clips", "17", 1_790_000_000_000)
    with connections.record() as seen:
        a = await _service(tmp_path / "a", "Hub A", {"17": clip})
        b = await _service(tmp_path / "b", "Hub B", {})
        try:
            assert not a.status().joined
            await a.set_home(52.370216, 4.895168)
            await b.set_home(52.372933, 4.898812)
            status = await a.join((await host.invite()).encode(), "alice")
            assert (status.joined, status.group_name) == (True, "Elm Street")
            await b.join((await host.invite()).encode(), "bob")
            arrived: list[NeighborPost | Comment] = []
            b.subscribe(arrived.append)

            shared = await a.share_clip("17", "Parcel thief at 14:00", "alice")
            assert shared.manifest["expires_ms"] - shared.manifest["created_ms"] == 14 * 86_400_000
            await wait_for(lambda: arrived, timeout=30)
            post = arrived[0]
            assert isinstance(post, NeighborPost)
            assert (post.event_id, post.verified, post.message) == (
                shared.reference,
                True,
                "Parcel thief at 14:00",
            )
            assert (await b.posts())[0].event_id == shared.reference

            await b.leave("bob")
            assert not b.status().joined
            assert not (tmp_path / "b/neighborhood/member").exists()
            assert not (tmp_path / "b/neighborhood/feed").exists()
            assert await b.posts() == []
        finally:
            await a.stop()
            await b.stop()
    assert set(seen) <= {("127.0.0.1", homeserver.port)}
    assert seen
    actions = [e.action for e in await (await AuditLog.open(tmp_path / "b")).entries()]
    assert actions == ["group.joined", "group.left"]


async def test_errors_have_codes_and_reasons(host: GroupHost, tmp_path: Path) -> None:
    """Bad invites, a used token, an unreachable homeserver, sharing too early or a missing
    clip: each is a `NeighborhoodError` with its own code."""
    service = await _service(tmp_path / "c", "Hub C", {})
    try:
        with pytest.raises(NeighborhoodError, match="not in a group") as not_joined:
            await service.share_clip("1", "", "carol")
        assert not_joined.value.code == "not_joined"
        with pytest.raises(NeighborhoodError) as invalid:
            await service.join("hello", "carol")
        assert invalid.value.code == "invalid_invite"

        invite = await host.invite()
        unreachable = Invite(
            f"http://127.0.0.1:{free_port()}", "t", "hub-x", invite.space_id, "Elm Street"
        )
        with pytest.raises(NeighborhoodError) as down:
            await service.join(unreachable.encode(), "carol")
        assert down.value.code == "homeserver_unreachable"

        await service.join(invite.encode(), "carol")
        with pytest.raises(NeighborhoodError) as no_home:
            await service.share_clip("1", "", "carol")
        assert no_home.value.code == "no_home_location"
        await service.set_home(52.37, 4.89)
        with pytest.raises(NeighborhoodError) as missing:
            await service.share_clip("1", "", "carol")
        assert missing.value.code == "clip_not_found"
        with pytest.raises(NeighborhoodError) as twice:
            await service.join(invite.encode(), "carol")
        assert twice.value.code == "already_joined"
    finally:
        await service.stop()

    used = await _service(tmp_path / "d", "Hub D", {})
    try:
        with pytest.raises(NeighborhoodError) as rejected:
            await used.join(invite.encode(), "dave")
        assert rejected.value.code == "invite_rejected"
    finally:
        await used.stop()


async def test_removed_hub_is_told_why_after_a_restart(host: GroupHost, tmp_path: Path) -> None:
    """The admin removes the hub; it shows who and why, also after a restart, and refuses to
    share."""
    service = await _service(tmp_path / "e", "Hub E", {})
    await service.set_home(52.37, 4.89)
    status = await service.join((await host.invite()).encode(), "erin")
    assert status.user_id is not None
    await host.remove(status.user_id, "moved away")
    await wait_for(lambda: service.status().removed_reason == "moved away", timeout=60)
    await service.stop()
    again = await _service(tmp_path / "e", "Hub E", {})
    try:
        assert again.status().to_json()["removed"] == {
            "by": host.client.user_id,
            "reason": "moved away",
        }
        assert not again.status().joined
        with pytest.raises(NeighborhoodError) as refused:
            await again.share_clip("1", "", "erin")
        assert refused.value.code == "removed"
    finally:
        await again.stop()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def test_a_hub_started_while_the_homeserver_is_down_syncs_when_it_is_back(
    host: GroupHost, homeserver: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The homeserver cannot be reached when the hub starts: the sync keeps trying (its first
    attempt too), and once the homeserver answers, the hub is back in its group."""
    service = await _service(tmp_path / "g", "Hub G", {})
    await service.join((await host.invite()).encode(), "gina")
    await service.stop()
    # From now on the hub reaches the homeserver through a port that is closed at first.
    door = free_port()
    kept = membership_folder(tmp_path / "g") / "account.json"
    kept.write_text(
        json.dumps(json.loads(kept.read_text()) | {"homeserver": f"http://{LOOPBACK}:{door}"})
    )
    upstream = urlsplit(homeserver.url)

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(upstream.hostname, upstream.port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    again = await _service(tmp_path / "g", "Hub G", {})
    opened: asyncio.Server | None = None
    try:
        await wait_for(lambda: "group sync failed" in caplog.text, timeout=30)
        assert again.status().member_count is None
        opened = await asyncio.start_server(forward, LOOPBACK, door)
        await wait_for(lambda: again.status().member_count is not None, timeout=30)
        assert again.status().joined
    finally:
        await again.stop()
        if opened is not None:
            opened.close()


async def test_own_posts_are_listed_but_not_announced(host: GroupHost, tmp_path: Path) -> None:
    """The hub's own share shows in its feed, verified, without a neighbor-post notification."""
    clip = make_clip(tmp_path / "clips", "5", 1_790_000_000_000)
    service = await _service(tmp_path / "f", "Hub F", {"5": clip})
    try:
        await service.set_home(52.37, 4.89)
        await service.join((await host.invite()).encode(), "frank")
        announced: list[NeighborPost | Comment] = []
        service.subscribe(announced.append)
        shared = await service.share_clip("5", "mine", "frank")

        async def listed() -> bool:
            return await service.post(shared.reference) is not None

        await wait_for(listed, timeout=30)
        post = await service.post(shared.reference)
        assert post is not None
        assert post.verified
        assert announced == []
    finally:
        await service.stop()
