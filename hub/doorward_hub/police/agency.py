"""The agency role hub's Matrix side: sign in, join the groups that admitted it, send requests.

One Matrix account and device per agency hub, kept in `<data>/police/agency/` like a
household's membership (footage sent to the agency is decrypted only here). Receiving answers,
verifying them and enforcing their retention build on this (see docs/police.md).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from nio.responses import RoomGetStateResponse, RoomSendResponse

from ..audit.log import AuditLog
from ..core.files import read_json, write_json_atomically
from ..neighborhood import account
from ..neighborhood.account import MatrixError, checked
from ..neighborhood.event_types import ADMIN_POWER
from ..neighborhood.membership import GroupEvent, JoinedGroup, Membership
from .area import polygon_cells
from .event_types import REJECTION, REQUEST, PoliceRequest, WarrantDocument

DEVICE_NAME: Final = "Doorward agency hub"
GROUP_FILE: Final = "group.json"


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use a joined membership; log to `audit`."""
        self.membership = membership
        self._audit = audit
        self._clock = clock
        self.rejections: list[GroupRejection] = []

    @classmethod
    async def join(
        cls,
        folder: Path,
        audit: AuditLog,
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
            checked(await client.join(requests_room), "joining the group's requests room")
            group = JoinedGroup("", space_id, {"requests": requests_room}, str(client.user_id))
            write_json_atomically(folder / GROUP_FILE, group.to_json())
            await account.prepare_encryption(client)
        except BaseException:
            await account.close(client)
            raise
        return cls(Membership(folder, client, group), audit, clock)

    @classmethod
    def restore(
        cls, folder: Path, audit: AuditLog, clock: Callable[[], float] = time.time
    ) -> AgencyHub:
        """The kept login and group."""
        raw = read_json(folder / GROUP_FILE)
        if not isinstance(raw, dict):
            raise MatrixError("this agency hub has not joined a group")
        return cls(Membership(folder, account.restore(folder), JoinedGroup(**raw)), audit, clock)

    async def close(self) -> None:
        """Close the client's connections."""
        await self.membership.close()

    async def sync_once(self, timeout_ms: int = 0) -> None:
        """One sync: note the group bot's notices about our requests."""
        await self.membership.sync_once(self._receive, timeout_ms=timeout_ms)

    async def send_request(self, draft: RequestDraft) -> SentRequest:
        """Turn the draft into a request, send it encrypted to the group, log it."""
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
        event_id = await self.send_content(content)
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
            },
        )
        return SentRequest(request, event_id)

    async def send_content(self, content: dict[str, Any]) -> str:
        """Send request content as it is (the CLI sends drafts; tests send replays)."""
        client = self.membership.client
        room = self.membership.group.rooms["requests"]
        if room not in client.rooms:
            await self.sync_once()
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

    async def _receive(self, events: list[GroupEvent]) -> None:
        for event in events:
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
            await self._audit.append(
                "request.taken_down",
                event.sender,
                f"request:{rejection.request_id}",
                {"code": rejection.code, "reason": rejection.reason, "event_id": event.event_id},
            )
