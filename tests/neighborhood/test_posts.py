"""Neighbor posts end to end on a real Synapse: two household hubs and a plain Matrix client."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from nio.crypto.attachments import decrypt_attachment
from nio.responses import MemoryDownloadResponse

from doorward_hub.exports.exporter import Exporter, ExportPackage, ExportRefused, Grant
from doorward_hub.exports.package import encrypt_file
from doorward_hub.neighborhood.event_types import POST, GroupPolicy
from doorward_hub.neighborhood.feed import NeighborFeed
from doorward_hub.neighborhood.group_host import GroupHost
from doorward_hub.neighborhood.items import Comment, NeighborPost
from doorward_hub.neighborhood.posts import GroupPostDelivery

from .conftest import synapse
from .element import PlainClient
from .households import Household
from .media import make_clip

HOME_A = (52.370216, 4.895168)
HOME_B = (52.372933, 4.898812)


@dataclasses.dataclass
class Group:
    """A hosted group with two household hubs and one person's Matrix client."""

    host: GroupHost
    a: Household
    b: Household
    element: PlainClient
    tmp: Path

    async def sync_all(self) -> None:
        """Everyone syncs once (device keys and memberships travel this way)."""
        for household in (self.a, self.b):
            await household.sync()
        await self.element.sync()


@pytest.fixture
async def group(homeserver: Any, tmp_path: Path) -> AsyncIterator[Group]:
    """Elm Street with hubs A and B and a neighbor using a plain Matrix client."""
    admin = f"host-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    synapse.register(homeserver, admin, password, admin=True)
    host = await GroupHost.sign_in(tmp_path / "host", homeserver.url, admin, password)
    await host.create("Elm Street", GroupPolicy())
    a = await Household.join(tmp_path / "a", "Hub A", await host.invite(), HOME_A)
    b = await Household.join(tmp_path / "b", "Hub B", await host.invite(), HOME_B)
    element = await PlainClient.join(await host.invite(), tmp_path / "element")
    made = Group(host, a, b, element, tmp_path)
    await made.sync_all()
    await made.sync_all()
    yield made
    await element.close()
    await b.stop()
    await a.stop()
    await host.close()


async def until[T](check: Callable[[], Awaitable[T]], step: Callable[[], Awaitable[None]]) -> T:
    """Run `step` until `check` gives something truthy (at most 30 rounds)."""
    for _ in range(30):
        await step()
        result = await check()
        if result:
            return result
    raise AssertionError("condition not met after 30 syncs")


def _plaintext_chunks(data: bytes) -> list[bytes]:
    """Distinctive 48-byte windows from across a file (the frames are random noise)."""
    return [data[offset : offset + 48] for offset in range(4096, len(data) - 48, len(data) // 9)]


async def test_share_receive_verify_and_read_in_a_plain_client(
    group: Group, homeserver: Any
) -> None:
    """A shares; B decrypts and verifies it with its distance; the plain client decrypts the
    video and reads the body; the homeserver stores only ciphertext; no coordinates travel."""
    clip = make_clip(group.tmp / "clips", "clip-1", start_ms=1_790_000_000_000)
    result = await group.a.share(clip, "Someone tried every door on the street")

    post = await until(lambda: group.b.feed.post(result.reference), group.b.sync)
    assert post.verified, post.verification
    assert post.kind == "video"
    assert post.message == "Someone tried every door on the street"
    assert post.cell == group.a.cell
    assert post.cells_from_home is not None
    assert 0 <= post.cells_from_home <= 2
    assert post.duration_ms == 2000
    assert post.trigger == "ring"
    assert post.video_file is not None
    assert post.thumbnail_file is not None
    clip_bytes = clip.video.read_bytes()
    assert (group.b.feed.media / post.video_file).read_bytes() == clip_bytes
    assert (group.b.feed.media / post.thumbnail_file).read_bytes() == clip.thumbnail.read_bytes()

    # A person's Matrix client: an m.video it can decrypt, with a readable caption.
    seen: dict[str, Any] = {}

    async def element_has_it() -> bool:
        for room in (await group.element.sync()).rooms.join.values():
            for event in room.timeline.events:
                if event.event_id == result.reference:
                    seen.update(event.source)
        return bool(seen)

    await until(element_has_it, _nothing)
    content = seen["content"]
    assert content["msgtype"] == "m.video"
    assert "Someone tried every door on the street" in content["body"]
    assert "Doorbell clip (ring, 2 s)" in content["body"]
    downloaded = await group.element.client.download(content["file"]["url"])
    assert isinstance(downloaded, MemoryDownloadResponse)
    assert downloaded.body != clip_bytes
    plain = decrypt_attachment(
        downloaded.body,
        content["file"]["key"]["k"],
        content["file"]["hashes"]["sha256"],
        content["file"]["iv"],
    )
    assert plain == clip_bytes
    assert content["info"]["thumbnail_file"]["url"].startswith("mxc://")

    # A cell, never coordinates.
    block = content[POST]
    assert block["cell"] == group.a.cell
    text = json.dumps(content)
    for coordinate in (*HOME_A, *HOME_B):
        assert f"{coordinate:.3f}"[:-1] not in text
    assert not {"lat", "lon", "latitude", "longitude", "geo_uri"} & _all_keys(content)

    # The homeserver holds only ciphertext: no window of the clip in its database or media.
    chunks = _plaintext_chunks(clip_bytes)
    stored = [p for p in homeserver.data_dir.rglob("*") if p.is_file()]
    assert any(p.is_relative_to(homeserver.media_store) for p in stored)
    for path in stored:
        data = path.read_bytes()
        assert not any(chunk in data for chunk in chunks), path

    # The share is in A's audit log, chained.
    actions = [(e.action, e.subject) for e in await group.a.audit.entries()]
    assert actions == [("export.granted", "clip:clip-1"), ("export.delivered", "clip:clip-1")]

    # Comments and text posts from the plain client reach B.
    reply = await group.element.say(
        group.a.membership.group.rooms["feed"],
        "Saw him too, around 3",
        **{"m.relates_to": {"m.in_reply_to": {"event_id": result.reference}}},
    )
    text_post = await group.element.say(group.a.membership.group.rooms["feed"], "Lost cat")
    comments = await until(lambda: group.b.feed.comments(result.reference), group.b.sync)
    assert [(c.event_id, c.body) for c in comments] == [(reply, "Saw him too, around 3")]
    lost_cat = await until(lambda: group.b.feed.post(text_post), group.b.sync)
    assert (lost_cat.kind, lost_cat.body, lost_cat.verified) == ("text", "Lost cat", False)


async def _nothing() -> None:
    return None


def _all_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _all_keys(v)}
    return set()


async def test_restart_while_neighbors_post_gets_every_post_once(group: Group) -> None:
    """B is down while A posts three clips; after B restarts, each arrives exactly once."""
    arrived: list[str] = []

    def listen(item: NeighborPost | Comment) -> None:
        arrived.append(item.event_id)

    group.b.feed.subscribe(listen)
    first = await group.a.share(make_clip(group.tmp / "c", "c0", 1_790_000_000_000), "before")
    await until(lambda: group.b.feed.post(first.reference), group.b.sync)

    await group.b.stop()
    sent = [first.reference]
    for index in range(1, 4):
        clip = make_clip(group.tmp / "c", f"c{index}", 1_790_000_000_000 + index * 60_000)
        sent.append((await group.a.share(clip, f"while B was down {index}")).reference)
    group.b = await Household.restart(group.b.data_dir, "Hub B", HOME_B)
    group.b.feed.subscribe(listen)

    async def all_there() -> bool:
        return all([await group.b.feed.post(event_id) for event_id in sent])

    await until(all_there, group.b.sync)
    for _ in range(3):
        await group.b.sync()
    assert sorted(arrived) == sorted(sent)
    posts = await group.b.feed.posts()
    assert sorted(p.event_id for p in posts) == sorted(sent)
    assert all(p.verified for p in posts)


class Tampering(GroupPostDelivery):
    """Changes the package after it was signed, as an attacker in the middle would."""

    def __init__(self, household: Household, change: Callable[[ExportPackage], ExportPackage]):
        """Deliver for `household` after `change`."""
        super().__init__(household.membership, household.cell)
        self._change = change

    async def deliver(self, package: ExportPackage, message: str) -> str:
        """Send the changed package."""
        return await super().deliver(self._change(package), message)


async def test_tampered_manifest_or_clip_is_unverified(group: Group) -> None:
    """A changed manifest, a swapped clip, or a video from a plain client: never verified."""

    def later_start(package: ExportPackage) -> ExportPackage:
        manifest = json.loads(json.dumps(package.manifest))
        manifest["items"][0]["device_start_ms"] += 3_600_000
        return dataclasses.replace(package, manifest=manifest)

    other = make_clip(group.tmp / "other", "other", 1_790_000_000_000)

    def swapped_clip(package: ExportPackage) -> ExportPackage:
        return dataclasses.replace(package, video=encrypt_file(other.video, "video/mp4"))

    clip = make_clip(group.tmp / "t", "t1", 1_790_000_000_000)
    edited = await group.a.share(clip, "edited", Tampering(group.a, later_start))
    swapped = await group.a.share(clip, "swapped", Tampering(group.a, swapped_clip))
    honest = await group.a.share(clip, "honest")

    async def all_there() -> list[NeighborPost]:
        posts = [await group.b.feed.post(e.reference) for e in (edited, swapped, honest)]
        return [p for p in posts if p] if all(posts) else []

    edited_post, swapped_post, honest_post = await until(all_there, group.b.sync)
    assert not edited_post.verified
    assert "bad signature" in edited_post.verification
    assert not swapped_post.verified
    assert swapped_post.verification == "item 'clip.mp4' differs from what was signed"
    assert honest_post.verified


async def test_one_grant_one_share_and_received_footage_expires(group: Group) -> None:
    """A grant shares its own item once; received clips go when retention or the manifest's
    expiry says so, media files included."""
    clip = make_clip(group.tmp / "g", "g1", 1_790_000_000_000)
    exporter = Exporter(group.a.identity, group.a.audit)
    grant = Grant.new("household test", "g1", "neighbor_post")
    with pytest.raises(ExportRefused, match="another item"):
        await exporter.export(
            Grant.new("household test", "g2", "neighbor_post"), clip, group.a.delivery(), "", 30
        )
    shared = await exporter.export(grant, clip, group.a.delivery(), "once", 30)
    with pytest.raises(ExportRefused, match="used already"):
        await exporter.export(grant, clip, group.a.delivery(), "twice", 30)
    assert shared.manifest["expires_ms"] - shared.manifest["created_ms"] == 30 * 86_400_000

    post = await until(lambda: group.b.feed.post(shared.reference), group.b.sync)
    assert post.video_file is not None
    media = group.b.feed.media / post.video_file
    now = time.time()
    for days_later, keep_days, removed in ((8, 365, 0), (8, 7, 1)):
        later = await NeighborFeed.open(
            group.b.data_dir / "feed",
            group.b.membership,
            group.b.cell,
            clock=lambda d=days_later: now + d * 86_400,
        )
        try:
            assert await later.enforce_retention(keep_days) == removed
        finally:
            await later.close()
    assert not media.exists()
    assert await group.b.feed.post(shared.reference) is None

    second = await group.a.share(make_clip(group.tmp / "g", "g3", 1_790_000_000_000), "x")
    await until(lambda: group.b.feed.post(second.reference), group.b.sync)
    expired = await NeighborFeed.open(
        group.b.data_dir / "feed", group.b.membership, group.b.cell, clock=lambda: now + 31 * 86_400
    )
    try:
        assert await expired.enforce_retention(365) == 1  # the manifest allowed 30 days
    finally:
        await expired.close()


async def test_a_group_on_postgresql(postgres_homeserver: Any, tmp_path: Path) -> None:
    """The same share and receive on a Synapse that keeps its data in PostgreSQL."""
    admin, password = f"host-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    synapse.register(postgres_homeserver, admin, password, admin=True)
    host = await GroupHost.sign_in(tmp_path / "host", postgres_homeserver.url, admin, password)
    await host.create("Market Square", GroupPolicy())
    a = await Household.join(tmp_path / "a", "Hub A", await host.invite(), HOME_A)
    b = await Household.join(tmp_path / "b", "Hub B", await host.invite(), HOME_B)
    try:
        for _ in range(2):
            await a.sync()
            await b.sync()
        clip = make_clip(tmp_path / "clips", "pg-1", 1_790_000_000_000)
        shared = await a.share(clip, "on PostgreSQL")
        post = await until(lambda: b.feed.post(shared.reference), b.sync)
        assert post.verified, post.verification
        assert post.video_file is not None
        assert (b.feed.media / post.video_file).read_bytes() == clip.video.read_bytes()
        assert not postgres_homeserver.database.exists()  # no SQLite file: PostgreSQL holds it
    finally:
        await b.stop()
        await a.stop()
        await host.close()
