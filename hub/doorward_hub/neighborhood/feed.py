"""The neighbor feed on this hub: posts and comments received from the group, decrypted,
checked against the sender's published key, and kept with their distance from home.

Posts come from hubs (an `m.video` with an `org.doorward.post` block and a signed manifest) and
from people's Matrix clients (text, or video without a manifest: shown as unverified). Replies
and thread messages are comments on their post. The store is keyed by event id, so a batch
that the membership replays after a crash is stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import aiosqlite
from nio.crypto.attachments import decrypt_attachment
from nio.responses import MemoryDownloadResponse, RoomGetStateEventResponse

from ..core.files import create_private_file, private_folder
from ..exports.exporter import VIDEO_NAME
from ..exports.manifest import Verification, verify_manifest
from .event_types import MEMBER, InvalidContent, MemberRecord
from .items import Comment, FeedListener, NeighborPost
from .location import cells_apart
from .membership import GroupEvent, Membership
from .posts import PostBlock

_LOGGER = logging.getLogger(__name__)

MAX_MEDIA_BYTES: Final = 200 * 1024 * 1024
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS posts (
    event_id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    message TEXT NOT NULL,
    cell TEXT,
    cells_from_home INTEGER,
    start_ms INTEGER,
    duration_ms INTEGER,
    trigger TEXT,
    verified INTEGER NOT NULL,
    verification TEXT NOT NULL,
    video_file TEXT,
    thumbnail_file TEXT,
    manifest TEXT,
    received_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS comments (
    event_id TEXT PRIMARY KEY,
    post_event_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_by_post ON comments (post_event_id, sent_ms);
"""


class NeighborFeed:
    """Receives the group feed's events (as the membership's sink) and keeps them."""

    def __init__(
        self,
        folder: Path,
        db: aiosqlite.Connection,
        membership: Membership,
        home_cell: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use an open database; media goes to `folder/media`."""
        self.media = folder / "media"
        self._db = db
        self._membership = membership
        self._home_cell = home_cell
        self._clock = clock
        self._listeners: list[FeedListener] = []
        self._records: dict[str, MemberRecord | None] = {}

    @classmethod
    async def open(
        cls,
        folder: Path,
        membership: Membership,
        home_cell: str,
        clock: Callable[[], float] = time.time,
    ) -> NeighborFeed:
        """Open (or create) the feed kept in `folder` (0700)."""
        await asyncio.to_thread(private_folder, folder)
        await asyncio.to_thread(private_folder, folder / "media")
        # SQLite gives its journal files the database file's mode: create it private.
        await asyncio.to_thread(create_private_file, folder / "feed.db")
        db = await aiosqlite.connect(folder / "feed.db")
        await db.executescript(SCHEMA)
        await db.commit()
        return cls(folder, db, membership, home_cell, clock)

    async def close(self) -> None:
        """Close the database."""
        await self._db.close()

    def subscribe(self, listener: FeedListener) -> Callable[[], None]:
        """Call `listener` with each new post and comment; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def __call__(self, events: list[GroupEvent]) -> None:
        """The membership's sink: store what is new, in order."""
        for event in events:
            if event.room == "space" and event.type == MEMBER and event.state_key:
                self._records.pop(event.state_key, None)  # a member changed its key
            if event.room != "feed" or event.type != "m.room.message":
                continue
            if await self._known(event.event_id):
                continue
            stored = await self._store(event)
            if stored is not None:
                for listener in list(self._listeners):
                    listener(stored)

    async def posts(self, limit: int = 50) -> list[NeighborPost]:
        """The newest posts first."""
        async with self._db.execute(
            _SELECT_POSTS + " ORDER BY sent_ms DESC LIMIT ?", (limit,)
        ) as cursor:
            return [_post(row) for row in await cursor.fetchall()]

    async def post(self, event_id: str) -> NeighborPost | None:
        """One post."""
        async with self._db.execute(_SELECT_POSTS + " WHERE event_id = ?", (event_id,)) as cursor:
            row = await cursor.fetchone()
        return _post(row) if row else None

    async def comments(self, post_event_id: str) -> list[Comment]:
        """A post's comments, oldest first."""
        async with self._db.execute(
            "SELECT event_id, post_event_id, sender, sent_ms, body FROM comments "
            "WHERE post_event_id = ? ORDER BY sent_ms",
            (post_event_id,),
        ) as cursor:
            return [Comment(*row) for row in await cursor.fetchall()]

    async def enforce_retention(self, keep_days: float) -> int:
        """Delete posts (and their media) older than `keep_days` or whose manifest expired;
        returns how many went."""
        now_ms = int(self._clock() * 1000)
        oldest = now_ms - int(keep_days * 86_400_000)
        async with self._db.execute(
            "SELECT event_id, video_file, thumbnail_file, manifest FROM posts"
        ) as cursor:
            rows = list(await cursor.fetchall())
        gone: list[str] = []
        files: set[str] = set()
        for event_id, video, thumbnail, manifest in rows:
            expires = json.loads(manifest).get("expires_ms") if manifest else None
            received = await self._received_ms(event_id)
            if received < oldest or (isinstance(expires, int) and expires <= now_ms):
                gone.append(event_id)
                files.update(name for name in (video, thumbnail) if name)
        kept = {name for event_id, *names, _ in rows if event_id not in gone for name in names}
        for name in files - kept:  # the same clip shared twice is one file
            await asyncio.to_thread((self.media / name).unlink, missing_ok=True)
        for event_id in gone:
            await self._db.execute("DELETE FROM posts WHERE event_id = ?", (event_id,))
            await self._db.execute("DELETE FROM comments WHERE post_event_id = ?", (event_id,))
        await self._db.commit()
        return len(gone)

    async def _received_ms(self, event_id: str) -> int:
        async with self._db.execute(
            "SELECT received_ms FROM posts WHERE event_id = ?", (event_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _known(self, event_id: str) -> bool:
        async with self._db.execute(
            "SELECT 1 FROM posts WHERE event_id = ? UNION ALL "
            "SELECT 1 FROM comments WHERE event_id = ?",
            (event_id, event_id),
        ) as cursor:
            return await cursor.fetchone() is not None

    async def _store(self, event: GroupEvent) -> NeighborPost | Comment | None:
        content = event.content
        body = str(content.get("body", ""))
        parent = _replied_to(content)
        received = int(self._clock() * 1000)
        if parent is not None:
            comment = Comment(event.event_id, parent, event.sender, event.timestamp_ms, body)
            await self._db.execute(
                "INSERT OR IGNORE INTO comments VALUES (?, ?, ?, ?, ?, ?)",
                (*_astuple(comment), received),
            )
            await self._db.commit()
            return comment
        if content.get("msgtype") == "m.video":
            post = await self._video_post(event, body)
        else:
            post = NeighborPost(
                event.event_id, event.sender, event.timestamp_ms, "text", body, body,
                None, None, None, None, None, False, "a text post: nothing to verify",
                None, None,
            )  # fmt: skip
        block = PostBlock.from_content(content)
        manifest = json.dumps(block.manifest) if block else None
        await self._db.execute(_INSERT_POST, (*_astuple(post), manifest, received))
        await self._db.commit()
        return post

    async def _video_post(self, event: GroupEvent, body: str) -> NeighborPost:
        content = event.content
        block = PostBlock.from_content(content)
        info = content.get("info") if isinstance(content.get("info"), dict) else {}
        declared = info.get("size") if info else None
        too_big = isinstance(declared, int) and declared > MAX_MEDIA_BYTES
        video = None if too_big else await self._fetch(content.get("file"), ".mp4")
        thumbnail = await self._fetch(info.get("thumbnail_file"), ".jpg") if info else None
        verification = await self._verify(event.sender, block, video)
        return NeighborPost(
            event_id=event.event_id,
            sender=event.sender,
            sent_ms=event.timestamp_ms,
            kind="video",
            body=body,
            message=block.message if block else body,
            cell=block.cell if block else None,
            cells_from_home=cells_apart(self._home_cell, block.cell) if block else None,
            start_ms=block.start_ms if block else None,
            duration_ms=block.duration_ms if block else None,
            trigger=block.trigger if block else None,
            verified=verification.verified,
            verification=verification.reason,
            video_file=video[0] if video else None,
            thumbnail_file=thumbnail[0] if thumbnail else None,
        )

    async def _verify(
        self, sender: str, block: PostBlock | None, video: tuple[str, str] | None
    ) -> Verification:
        if block is None:
            return Verification(False, "no manifest: posted from a Matrix client, not a hub")
        if video is None:
            return Verification(False, "the clip could not be downloaded or decrypted")
        record = await self._record(sender)
        if record is None:
            return Verification(False, "the sender has published no hub key in the group")
        return verify_manifest(
            block.manifest,
            expected_key=record.identity_key,
            expected_key_id=record.key_id,
            shared_sha256={VIDEO_NAME: video[1]},
            now_ms=int(self._clock() * 1000),
        )

    async def _record(self, sender: str) -> MemberRecord | None:
        if sender not in self._records:
            client = self._membership.client
            response = await client.room_get_state_event(
                self._membership.group.space_id, MEMBER, sender
            )
            record = None
            if isinstance(response, RoomGetStateEventResponse):
                try:
                    record = MemberRecord.from_event(sender, response.content)
                except InvalidContent:
                    record = None
            self._records[sender] = record
        return self._records[sender]

    async def _fetch(self, file_block: Any, suffix: str) -> tuple[str, str] | None:
        """Download and decrypt an encrypted attachment into the media folder; its file name
        and SHA-256 of the plaintext. None if it cannot be had."""
        if not isinstance(file_block, dict):
            return None
        try:
            url = str(file_block["url"])
            key = str(file_block["key"]["k"])
            digest = str(file_block["hashes"]["sha256"])
            iv = str(file_block["iv"])
        except (KeyError, TypeError):
            return None
        response = await self._membership.client.download(url)
        if not isinstance(response, MemoryDownloadResponse) or len(response.body) > (
            MAX_MEDIA_BYTES
        ):
            _LOGGER.warning("could not download %s: %s", url, response)
            return None
        return await asyncio.to_thread(
            self._decrypt_and_keep, response.body, key, digest, iv, suffix
        )

    def _decrypt_and_keep(
        self, ciphertext: bytes, key: str, digest: str, iv: str, suffix: str
    ) -> tuple[str, str] | None:
        try:
            plaintext = decrypt_attachment(ciphertext, key, digest, iv)
        except Exception as err:  # nio raises EncryptionError or a crypto library's ValueError
            _LOGGER.warning("an attachment did not decrypt: %s", err)
            return None
        sha256 = hashlib.sha256(plaintext).hexdigest()
        name = sha256 + suffix
        target = self.media / name
        partial = target.with_name(name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(plaintext)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(target)
        return name, sha256


_SELECT_POSTS: Final = (
    "SELECT event_id, sender, sent_ms, kind, body, message, cell, cells_from_home, start_ms, "
    "duration_ms, trigger, verified, verification, video_file, thumbnail_file FROM posts"
)
_INSERT_POST: Final = (
    "INSERT OR IGNORE INTO posts (event_id, sender, sent_ms, kind, body, message, cell, "
    "cells_from_home, start_ms, duration_ms, trigger, verified, verification, video_file, "
    "thumbnail_file, manifest, received_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _post(row: Any) -> NeighborPost:
    values = list(row)
    values[11] = bool(values[11])
    return NeighborPost(*values)


def _astuple(item: NeighborPost | Comment) -> tuple[Any, ...]:
    return tuple(item.__dict__.values())


def _replied_to(content: dict[str, Any]) -> str | None:
    """The post a reply or thread message belongs to (the thread root when both are given)."""
    relation = content.get("m.relates_to")
    if not isinstance(relation, dict):
        return None
    if relation.get("rel_type") == "m.thread" and isinstance(relation.get("event_id"), str):
        return str(relation["event_id"])
    reply = relation.get("m.in_reply_to")
    if isinstance(reply, dict) and isinstance(reply.get("event_id"), str):
        return str(reply["event_id"])
    return None
