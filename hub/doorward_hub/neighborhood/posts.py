"""Neighbor posts as they travel: an encrypted `m.video` with an `org.doorward.post` block.

Any Matrix client shows the video (it can decrypt the attachment) and the readable `body`;
Doorward hubs also read the block: the coarse cell, start time, duration, trigger and the
signed manifest. Never coordinates (DESIGN.md, privacy invariant 5).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from nio.responses import RoomSendResponse, UploadResponse

from ..exports.exporter import ExportPackage
from ..exports.package import EncryptedFile
from .account import checked
from .errors import MatrixError
from .event_types import POST
from .location import is_cell
from .membership import Membership

VIDEO_FILENAME: Final = "doorbell-clip.mp4"
MAX_MESSAGE_LENGTH: Final = 2000


def readable_body(message: str, trigger: str, start_ms: int, duration_ms: int) -> str:
    """What a plain Matrix client shows as the post's caption."""
    when = datetime.fromtimestamp(start_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    what = f"Doorbell clip ({trigger}, {round(duration_ms / 1000)} s) from {when}."
    return f"{message}\n\n{what}" if message else what


@dataclass(frozen=True)
class PostBlock:
    """The `org.doorward.post` block, parsed."""

    cell: str
    start_ms: int
    duration_ms: int
    trigger: str
    message: str
    manifest: dict[str, Any]

    def to_content(self) -> dict[str, Any]:
        """As it travels."""
        return {
            "version": 1,
            "cell": self.cell,
            "start_ms": self.start_ms,
            "duration_ms": self.duration_ms,
            "trigger": self.trigger,
            "message": self.message,
            "manifest": self.manifest,
        }

    @classmethod
    def from_content(cls, content: Any) -> PostBlock | None:
        """The block of a received post, or None if it has none or a malformed one."""
        block = content.get(POST) if isinstance(content, dict) else None
        if not isinstance(block, dict):
            return None
        fields = (block.get("cell"), block.get("start_ms"), block.get("duration_ms"))
        if not is_cell(fields[0]) or not all(isinstance(f, int) for f in fields[1:]):
            return None
        manifest = block.get("manifest")
        return cls(
            cell=str(block["cell"]),
            start_ms=int(block["start_ms"]),
            duration_ms=int(block["duration_ms"]),
            trigger=str(block.get("trigger", "")),
            message=str(block.get("message", "")),
            manifest=manifest if isinstance(manifest, dict) else {},
        )


class GroupPostDelivery:
    """Delivers an export to the group's feed as a neighbor post."""

    def __init__(self, membership: Membership, home_cell: str) -> None:
        """Post as `membership`'s hub, placed in `home_cell`."""
        if not is_cell(home_cell):
            raise ValueError("the home cell must be an H3 cell at resolution 8")
        self._membership = membership
        self._home_cell = home_cell
        self.recipient = f"{membership.group.name} ({membership.group.rooms['feed']})"

    async def deliver(self, package: ExportPackage, message: str) -> str:
        """Upload the encrypted clip and thumbnail, send the `m.video`; returns its event id."""
        if len(message) > MAX_MESSAGE_LENGTH:
            raise ValueError(f"the message is longer than {MAX_MESSAGE_LENGTH} characters")
        client = self._membership.client
        feed = self._membership.group.rooms["feed"]
        if feed not in client.rooms:
            raise MatrixError("the hub has not synced with the group yet; try again shortly")
        clip = package.clip
        info: dict[str, Any] = {
            "mimetype": "video/mp4",
            "size": package.video.plaintext_size,
            "duration": package.video_facts.duration_ms or clip.duration_ms,
            "w": package.video_facts.width,
            "h": package.video_facts.height,
        }
        if package.thumbnail is not None and package.thumbnail_facts is not None:
            info["thumbnail_file"] = package.thumbnail.file_block(
                await self._upload(package.thumbnail, "thumbnail.jpg")
            )
            info["thumbnail_info"] = {
                "mimetype": "image/jpeg",
                "size": package.thumbnail.plaintext_size,
                "w": package.thumbnail_facts.width,
                "h": package.thumbnail_facts.height,
            }
        block = PostBlock(
            cell=self._home_cell,
            start_ms=clip.start_ms,
            duration_ms=clip.duration_ms,
            trigger=clip.trigger,
            message=message,
            manifest=package.manifest,
        )
        content = {
            "msgtype": "m.video",
            "body": readable_body(message, clip.trigger, clip.start_ms, clip.duration_ms),
            "filename": VIDEO_FILENAME,
            "file": package.video.file_block(await self._upload(package.video, VIDEO_FILENAME)),
            "info": info,
            POST: block.to_content(),
        }
        sent = checked(
            await client.room_send(feed, "m.room.message", content, ignore_unverified_devices=True),
            "posting to the group",
        )
        assert isinstance(sent, RoomSendResponse)
        return str(sent.event_id)

    async def _upload(self, encrypted: EncryptedFile, name: str) -> str:
        response, _ = await self._membership.client.upload(
            io.BytesIO(encrypted.ciphertext),
            content_type="application/octet-stream",
            filename=name,
            filesize=len(encrypted.ciphertext),
        )
        uploaded = checked(response, f"uploading {name}")
        assert isinstance(uploaded, UploadResponse)
        return str(uploaded.content_uri)
