"""The agency role hub's Matrix side: join the group that admitted it, send requests, receive
answers.

One Matrix account and device per agency hub, kept in `<data>/police/agency/` like a
household's membership (footage sent to the agency is decrypted only here). Answers arrive in
encrypted direct rooms that member hubs open; each clip is verified against the sender's
published `org.doorward.member` key and its SHA-256 before it is stored as evidence, and anything
that fails is stored marked unverified with the reason.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from nio.responses import (
    MemoryDownloadResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomSendResponse,
)

from ..audit.log import AuditLog
from ..core.files import read_json, write_json_atomically
from ..exports.exporter import VIDEO_NAME
from ..exports.manifest import verify_manifest
from ..neighborhood import account
from ..neighborhood.account import checked
from ..neighborhood.errors import MatrixError
from ..neighborhood.event_types import ADMIN_POWER, MEMBER, InvalidContent, MemberRecord
from ..neighborhood.membership import GroupEvent, JoinedGroup, Membership
from .area import polygon_cells
from .event_types import ANSWER, REJECTION, REQUEST, PoliceRequest, WarrantDocument
from .evidence import (
    MAX_UNVERIFIED_KEEP_MS,
    EvidenceItem,
    EvidenceStore,
    decrypt_clip,
    sha256_hex,
)

DEVICE_NAME: Final = "Doorward agency hub"
GROUP_FILE: Final = "group.json"
SENT_FILE: Final = "sent_requests.json"
ANSWER_ROOM_PREFIX: Final = "answers:"
MAX_CLIP_BYTES: Final = 512 * 1024 * 1024


@dataclass(frozen=True)
class RequestDraft:
    """What an officer fills in; the hub adds the id, times and the area's cells."""

    case_number: str
    incident_type: str
    description: str
    legal_basis: str
    polygon: Sequence[tuple[float, float]]
    window_start_ms: int
    window_end_ms: int
    valid_for_s: int
    contact: str
    warrant: WarrantDocument | None = None


@dataclass(frozen=True)
class GroupRejection:
    """The group bot's notice that one of our requests was taken down."""

    request_id: str | None
    code: str
    reason: str


@dataclass(frozen=True)
class SentSummary:
    """A sent request as the agency keeps it (its ledger in `sent_requests.json`)."""

    request_id: str
    case_number: str
    incident_type: str
    legal_basis: str
    area_m2: int
    window_start_ms: int
    window_end_ms: int
    created_ms: int
    expires_ms: int
    has_warrant: bool
    event_id: str | None
    rejection: GroupRejection | None

    @classmethod
    def from_record(cls, request_id: str, raw: dict[str, Any]) -> SentSummary:
        """Read one ledger entry (entries of older hubs hold only the case number)."""
        taken_down = raw.get("rejection")
        return cls(
            request_id=request_id,
            case_number=str(raw.get("case_number", "")),
            incident_type=str(raw.get("incident_type", "")),
            legal_basis=str(raw.get("legal_basis", "")),
            area_m2=int(raw.get("area_m2", 0)),
            window_start_ms=int(raw.get("window_start_ms", 0)),
            window_end_ms=int(raw.get("window_end_ms", 0)),
            created_ms=int(raw.get("created_ms", 0)),
            expires_ms=int(raw.get("expires_ms", 0)),
            has_warrant=bool(raw.get("has_warrant", False)),
            event_id=raw.get("event_id"),
            rejection=(
                GroupRejection(request_id, str(taken_down["code"]), str(taken_down["reason"]))
                if isinstance(taken_down, dict)
                else None
            ),
        )


@dataclass(frozen=True)
class SentRequest:
    """A request as sent, and the Matrix event that carried it."""

    request: PoliceRequest
    event_id: str


class AgencyHub:
    """One agency's Matrix client in one group's `requests` room."""

    def __init__(
        self,
        membership: Membership,
        audit: AuditLog,
        evidence: EvidenceStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use a joined membership; log to `audit`; keep answers in `evidence`."""
        self.membership = membership
        self.evidence = evidence
        self._audit = audit
        self._clock = clock
        self.rejections: list[GroupRejection] = []
        self._sync_lock = asyncio.Lock()

    @classmethod
    async def join(
        cls,
        folder: Path,
        audit: AuditLog,
        evidence: EvidenceStore,
        *,
        homeserver: str,
        user: str,
        password: str,
        space_id: str,
        requests_room: str,
        clock: Callable[[], float] = time.time,
    ) -> AgencyHub:
        """Log in and accept the group's invite to its `requests` room."""
        client = await account.login(folder, homeserver, user, password, DEVICE_NAME)
        try:
            checked(await client.join(space_id), "joining the group's space")
            checked(await client.join(requests_room), "joining the group's requests room")
            group = JoinedGroup("", space_id, {"requests": requests_room}, str(client.user_id))
            write_json_atomically(folder / GROUP_FILE, group.to_json())
            await account.prepare_encryption(client)
        except BaseException:
            await account.close(client)
            raise
        return cls(Membership(folder, client, group), audit, evidence, clock)

    @classmethod
    def restore(
        cls,
        folder: Path,
        audit: AuditLog,
        evidence: EvidenceStore,
        clock: Callable[[], float] = time.time,
    ) -> AgencyHub:
        """The kept login and group."""
        raw = read_json(folder / GROUP_FILE)
        if not isinstance(raw, dict):
            raise MatrixError("this agency hub has not joined a group")
        membership = Membership(folder, account.restore(folder), JoinedGroup(**raw))
        return cls(membership, audit, evidence, clock)

    async def close(self) -> None:
        """Close the client's connections."""
        await self.membership.close()

    async def sync_once(self, timeout_ms: int = 0) -> None:
        """One sync: the group bot's notices about our requests, answers from member hubs, and
        member hubs' invitations to answer rooms."""
        async with self._sync_lock:  # the service's loop and a first send may both sync
            await self.membership.sync_once(self._receive, timeout_ms=timeout_ms)
            await self._accept_answer_rooms()

    async def send_request(self, draft: RequestDraft, officer: str | None = None) -> SentRequest:
        """Turn the draft into a request, send it encrypted to the group, log it (with the
        officer who sent it, when the agency API did)."""
        now = int(self._clock() * 1000)
        request = PoliceRequest(
            request_id=f"req-{secrets.token_hex(8)}",
            agency=str(self.membership.client.user_id),
            case_number=draft.case_number,
            incident_type=draft.incident_type,
            description=draft.description,
            legal_basis=draft.legal_basis,
            area_cells=polygon_cells(draft.polygon),
            window_start_ms=draft.window_start_ms,
            window_end_ms=draft.window_end_ms,
            created_ms=now,
            expires_ms=now + draft.valid_for_s * 1000,
            contact=draft.contact,
            warrant=draft.warrant,
        )
        content = request.to_content()
        PoliceRequest.from_content(content)  # the same checks every receiver makes
        record = {
            "case_number": request.case_number,
            "incident_type": request.incident_type,
            "legal_basis": request.legal_basis,
            "area_m2": request.area_m2,
            "window_start_ms": request.window_start_ms,
            "window_end_ms": request.window_end_ms,
            "created_ms": request.created_ms,
            "expires_ms": request.expires_ms,
            "has_warrant": request.warrant is not None,
            "event_id": None,
            "rejection": None,
        }
        # Kept before sending: an answer may arrive before `room_send` returns.
        self._update_sent(request.request_id, record)
        try:
            event_id = await self.send_content(content)
        except BaseException:
            self._forget_sent(request.request_id)  # never sent: not listed, answers refused
            raise
        self._update_sent(request.request_id, {"event_id": event_id})
        await self._audit.append(
            "request.sent",
            str(self.membership.client.user_id),
            f"request:{request.request_id}",
            {
                "event_id": event_id,
                "case_number": request.case_number,
                "legal_basis": request.legal_basis,
                "area_cells": len(request.area_cells),
                "window_start_ms": request.window_start_ms,
                "window_end_ms": request.window_end_ms,
                "expires_ms": request.expires_ms,
                **({"officer": officer} if officer else {}),
            },
        )
        return SentRequest(request, event_id)

    def sent_requests(self) -> list[SentSummary]:
        """Every request this agency sent, newest first, with the group's take-down if any."""
        sent: dict[str, Any] = read_json(self.membership.folder / SENT_FILE) or {}
        summaries = [SentSummary.from_record(key, raw) for key, raw in sent.items()]
        return sorted(summaries, key=lambda s: s.created_ms, reverse=True)

    def _forget_sent(self, request_id: str) -> None:
        sent: dict[str, Any] = read_json(self.membership.folder / SENT_FILE) or {}
        sent.pop(request_id, None)
        write_json_atomically(self.membership.folder / SENT_FILE, sent)

    def _update_sent(self, request_id: str, changes: dict[str, Any]) -> None:
        sent: dict[str, Any] = read_json(self.membership.folder / SENT_FILE) or {}
        sent[request_id] = sent.get(request_id, {}) | changes
        write_json_atomically(self.membership.folder / SENT_FILE, sent)

    async def send_content(self, content: dict[str, Any]) -> str:
        """Send request content as it is (the CLI sends drafts; tests send replays)."""
        client = self.membership.client
        room = self.membership.group.rooms["requests"]
        if room not in client.rooms:
            await self.sync_once()
        if room not in client.rooms:
            raise MatrixError("the homeserver does not list this agency in the requests room")
        if client.should_query_keys:
            checked(await client.keys_query(), "fetching the group's device keys")
        sent = checked(
            await client.room_send(room, REQUEST, content, ignore_unverified_devices=True),
            "sending the request",
        )
        assert isinstance(sent, RoomSendResponse)
        return str(sent.event_id)

    async def _room_admins(self, room_id: str) -> set[str]:
        """The room's creator (implicit top power in room version 12) and power-100 users."""
        state = checked(
            await self.membership.client.room_get_state(room_id), "reading the room's admins"
        )
        assert isinstance(state, RoomGetStateResponse)
        admins: set[str] = set()
        for event in state.events:
            if event.get("type") == "m.room.create":
                admins.add(str(event.get("sender")))
                admins.update(
                    str(u) for u in event.get("content", {}).get("additional_creators", [])
                )
            elif event.get("type") == "m.room.power_levels":
                users = event.get("content", {}).get("users", {})
                admins.update(u for u, level in users.items() if level >= ADMIN_POWER)
        return admins

    async def _accept_answer_rooms(self) -> None:
        """Join rooms that member hubs invited us to (answers); refuse other invitations."""
        client = self.membership.client
        group = self.membership.group
        pending = [r for r in client.invited_rooms if r not in group.room_names]
        if not pending:
            return
        members = await self._space_members()
        for room_id in pending:
            inviter = client.invited_rooms[room_id].inviter
            if inviter is None or inviter not in members:
                await client.room_leave(room_id)
                await self._audit.append(
                    "invite.refused", str(inviter), f"room:{room_id}", {"reason": "not a member"}
                )
                continue
            checked(await client.join(room_id), "joining a member hub's answer room")
            rooms = group.rooms | {ANSWER_ROOM_PREFIX + room_id: room_id}
            group = JoinedGroup(group.name, group.space_id, rooms, group.user_id, group.removed)
            self.membership.group = group
            write_json_atomically(self.membership.folder / GROUP_FILE, group.to_json())

    async def _space_members(self) -> set[str]:
        state = checked(
            await self.membership.client.room_get_state(self.membership.group.space_id),
            "reading the group's members",
        )
        assert isinstance(state, RoomGetStateResponse)
        return {
            str(e.get("state_key"))
            for e in state.events
            if e.get("type") == "m.room.member" and e.get("content", {}).get("membership") == "join"
        }

    async def _receive_answer(self, event: GroupEvent, block: dict[str, Any]) -> None:
        request_id = str(block.get("request_id", ""))
        sent: dict[str, Any] = read_json(self.membership.folder / SENT_FILE) or {}
        received = int(self._clock() * 1000)
        plaintext = await self._download(event.content.get("file"))
        sha = sha256_hex(plaintext) if plaintext is not None else None
        manifest = block.get("manifest")
        problem = await self._answer_problem(event.sender, request_id, sent, manifest)
        if problem is None and sha is None:
            problem = "the clip could not be downloaded or decrypted"
        if problem is None:
            record = await self._member_record(event.sender)
            assert record is not None
            verification = verify_manifest(
                manifest,
                expected_key=record.identity_key,
                expected_key_id=record.key_id,
                shared_sha256={VIDEO_NAME: str(sha)},
                now_ms=received,
            )
            verified, reason = verification.verified, verification.reason
        else:
            verified, reason = False, problem
        expires = manifest.get("expires_ms") if isinstance(manifest, dict) else None
        if not isinstance(expires, int) or not verified:
            limit = received + MAX_UNVERIFIED_KEEP_MS
            expires = min(expires, limit) if isinstance(expires, int) else limit
        await self.evidence.add(
            EvidenceItem(
                evidence_id=sha256_hex(event.event_id.encode())[:20],
                request_id=request_id,
                case_number=str(sent.get(request_id, {}).get("case_number", "")),
                sender=event.sender,
                received_ms=received,
                verified=verified,
                verification=reason,
                expires_ms=expires,
                sha256=sha,
                file=None,
                manifest=manifest if isinstance(manifest, dict) else None,
            ),
            plaintext,
        )

    async def _answer_problem(
        self, sender: str, request_id: str, sent: dict[str, Any], manifest: Any
    ) -> str | None:
        if request_id not in sent:
            return "not an answer to a request this agency sent"
        if not isinstance(manifest, dict):
            return "no manifest"
        expected = {
            "purpose": "police_answer",
            "request_id": request_id,
            "case_number": sent[request_id]["case_number"],
            "recipient": str(self.membership.client.user_id),
        }
        for key, value in expected.items():
            if manifest.get(key) != value:
                return f"the manifest's {key} is not {value!r}"
        if await self._member_record(sender) is None:
            return "the sender has published no hub key in the group"
        return None

    async def _member_record(self, sender: str) -> MemberRecord | None:
        response = await self.membership.client.room_get_state_event(
            self.membership.group.space_id, MEMBER, sender
        )
        if not isinstance(response, RoomGetStateEventResponse):
            return None
        try:
            return MemberRecord.from_event(sender, response.content)
        except InvalidContent:
            return None

    async def _download(self, file_block: Any) -> bytes | None:
        if not isinstance(file_block, dict) or not isinstance(file_block.get("url"), str):
            return None
        response = await self.membership.client.download(file_block["url"])
        if not isinstance(response, MemoryDownloadResponse) or len(response.body) > MAX_CLIP_BYTES:
            return None
        return await asyncio.to_thread(decrypt_clip, response.body, file_block)

    async def _receive(self, events: list[GroupEvent]) -> None:
        for event in events:
            answer = event.content.get(ANSWER)
            if (
                event.room.startswith(ANSWER_ROOM_PREFIX)
                and event.type == "m.room.message"
                and isinstance(answer, dict)
            ):
                await self._receive_answer(event, answer)
                continue
            block = event.content.get(REJECTION)
            if event.type != "m.room.message" or not isinstance(block, dict):
                continue
            if block.get("agency") != self.membership.client.user_id:
                continue
            if event.sender not in await self._room_admins(event.room_id):
                continue  # only the group's admins (its bot) take requests down
            rejection = GroupRejection(
                request_id=block.get("request_id"),
                code=str(block.get("code", "")),
                reason=str(block.get("reason", "")),
            )
            self.rejections.append(rejection)
            sent: dict[str, Any] = read_json(self.membership.folder / SENT_FILE) or {}
            if rejection.request_id in sent:
                self._update_sent(
                    rejection.request_id,
                    {"rejection": {"code": rejection.code, "reason": rejection.reason}},
                )
            await self._audit.append(
                "request.taken_down",
                event.sender,
                f"request:{rejection.request_id}",
                {"code": rejection.code, "reason": rejection.reason, "event_id": event.event_id},
            )
