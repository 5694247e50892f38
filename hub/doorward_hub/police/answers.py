"""Delivering one shared clip of a household's answer to the agency, and the share receipt.

`AnswerDelivery` can only be made with an `AnswerGrant`, which only `HouseholdRequests.answer`
(the API's answer action, a person's tap) mints: no other code path can send footage to an
agency (DESIGN.md, invariant 2; `tests/police/test_no_automatic_sharing.py` holds it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from nio.responses import RoomSendResponse, UploadResponse

from ..exports.exporter import ExportPackage, Grant
from ..exports.package import EncryptedFile
from ..neighborhood.account import checked
from ..neighborhood.membership import Membership
from .direct_rooms import direct_room
from .event_types import ANSWER, SHARE_RECEIPT, PoliceRequest, ShareReceipt

VIDEO_FILENAME: Final = "doorbell-clip.mp4"
_MINT: Final = object()
"""Only `household.py`'s answer action passes this; nothing else can make an `AnswerGrant`."""


class AnswerGrant:
    """A person's decision to share one clip with one agency for one request."""

    def __init__(self, key: object, grant: Grant, request: PoliceRequest) -> None:
        """Made only by the answer action (`key` is the module's private mint)."""
        if key is not _MINT or grant.purpose != "police_answer":
            raise PermissionError("only the answer action may grant sharing with an agency")
        self.grant = grant
        self.request = request


@dataclass(frozen=True)
class AnswerPart:
    """Which clip of how many this delivery is."""

    part: int
    parts: int


class AnswerDelivery:
    """Sends one shared clip to the agency in the encrypted direct room with it."""

    def __init__(self, membership: Membership, folder: Path, grant: AnswerGrant, part: AnswerPart):
        """Deliver under `grant` (an `AnswerGrant`, or this refuses)."""
        if not isinstance(grant, AnswerGrant):
            raise PermissionError("an answer needs the answer action's grant")
        self._membership = membership
        self._folder = folder
        self._grant = grant
        self._part = part
        self.recipient = grant.request.agency

    async def deliver(self, package: ExportPackage, message: str) -> str:
        """Upload the encrypted clip and send it with its signed manifest; the event id."""
        request = self._grant.request
        if package.clip.clip_id != self._grant.grant.item_id:
            raise PermissionError("the package is not the clip the person chose")
        client = self._membership.client
        room_id = await direct_room(client, self._folder, request.agency)
        info: dict[str, Any] = {
            "mimetype": "video/mp4",
            "size": package.video.plaintext_size,
            "duration": package.video_facts.duration_ms or package.clip.duration_ms,
            "w": package.video_facts.width,
            "h": package.video_facts.height,
        }
        content = {
            "msgtype": "m.video",
            "body": (
                f"Footage for request {request.case_number} ({request.request_id}), "
                f"clip {self._part.part} of {self._part.parts}. {message}".strip()
            ),
            "filename": VIDEO_FILENAME,
            "file": package.video.file_block(await self._upload(package.video)),
            "info": info,
            ANSWER: {
                "version": 1,
                "request_id": request.request_id,
                "case_number": request.case_number,
                "part": self._part.part,
                "parts": self._part.parts,
                "manifest": package.manifest,
            },
        }
        sent = checked(
            await client.room_send(
                room_id, "m.room.message", content, ignore_unverified_devices=True
            ),
            "sending the answer to the agency",
        )
        assert isinstance(sent, RoomSendResponse)
        return str(sent.event_id)

    async def _upload(self, encrypted: EncryptedFile) -> str:
        response, _ = await self._membership.client.upload(
            io.BytesIO(encrypted.ciphertext),
            content_type="application/octet-stream",
            filename=VIDEO_FILENAME,
            filesize=len(encrypted.ciphertext),
        )
        uploaded = checked(response, "uploading the answer's clip")
        assert isinstance(uploaded, UploadResponse)
        return str(uploaded.content_uri)


async def send_share_receipt(
    membership: Membership, folder: Path, bot: str, receipt: ShareReceipt
) -> str:
    """Tell the group bot how many clips were shared for a request (nothing else)."""
    client = membership.client
    room_id = await direct_room(client, folder, bot)
    content = {**receipt.to_content(), "msgtype": "m.notice"}
    sent = checked(
        await client.room_send(room_id, SHARE_RECEIPT, content, ignore_unverified_devices=True),
        "sending the share receipt to the group bot",
    )
    assert isinstance(sent, RoomSendResponse)
    return str(sent.event_id)
