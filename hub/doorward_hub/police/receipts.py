"""Share receipts: after sharing, a member hub tells the group bot "request X: n clips" in a
direct room. The bot joins those rooms (opened by space members, never by agencies) and counts
each receipt as its request id, clip count and time: nothing records who sent it, and a
receipt for a request the group never showed counts nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Final

from nio.responses import RoomGetStateResponse

from ..audit.log import AuditLog
from ..core.files import read_json, write_json_atomically
from ..neighborhood.account import checked
from ..neighborhood.group_host import GroupHost
from ..neighborhood.membership import GroupEvent, JoinedGroup, Membership
from .event_types import SHARE_RECEIPT, InvalidContent, ShareReceipt
from .group_state import read_group_rules

RECEIPT_ROOMS_FILE: Final = "receipt_rooms.json"
"""In the host's folder: the direct rooms in which member hubs send share receipts."""
RECEIPT_ROOM_PREFIX: Final = "receipts:"
"""The name under which the bot's membership watches a receipt room."""


class ReceiptCounter:
    """The group bot's share receipt rooms and its count of their receipts (in the ledger)."""

    def __init__(self, host: GroupHost, audit: AuditLog, ledger: Path) -> None:
        """Count into `ledger` (the bot's request ledger, key `receipts`)."""
        self._host = host
        self._audit = audit
        self._ledger = ledger

    def rooms(self) -> dict[str, str]:
        """The receipt rooms joined so far, by their watched name."""
        kept: list[str] = read_json(self._host.folder / RECEIPT_ROOMS_FILE) or []
        return {RECEIPT_ROOM_PREFIX + room_id: room_id for room_id in kept}

    async def accept_rooms(self, membership: Membership) -> None:
        """Join the rooms member hubs invited the bot to and watch them; leave other invites."""
        client = self._host.client
        pending = [r for r in client.invited_rooms if r not in membership.group.rooms.values()]
        if not pending:
            return
        space_id = self._host.group().space_id
        members = await self._space_members(space_id)
        agencies = (await read_group_rules(client, space_id)).agencies
        for room_id in pending:
            inviter = client.invited_rooms[room_id].inviter
            if inviter is None or inviter not in members or inviter in agencies:
                await client.room_leave(room_id)  # receipts come from member hubs only
                continue
            checked(await client.join(room_id), "joining a member hub's receipt room")
            group = membership.group
            rooms = group.rooms | {RECEIPT_ROOM_PREFIX + room_id: room_id}
            membership.group = JoinedGroup(
                group.name, group.space_id, rooms, group.user_id, group.removed
            )
            kept = [v for k, v in rooms.items() if k.startswith(RECEIPT_ROOM_PREFIX)]
            write_json_atomically(self._host.folder / RECEIPT_ROOMS_FILE, kept)

    async def count(self, events: list[GroupEvent]) -> None:
        """Count the receipts among `events`: the request and the clip count, never who sent
        one (each is kept under a hash of its event id, so a replayed sync counts it once)."""
        receipts = [
            e
            for e in events
            if e.room.startswith(RECEIPT_ROOM_PREFIX)
            and e.type == SHARE_RECEIPT
            and e.was_encrypted
        ]
        if not receipts:
            return
        ledger: dict[str, Any] = read_json(self._ledger) or {}
        shown = {
            str(entry["request_id"])
            for entry in ledger.get("events", {}).values()
            if entry.get("accepted") and entry.get("request_id")
        }
        counted = ledger.setdefault("receipts", {})
        for event in receipts:
            key = hashlib.sha256(event.event_id.encode()).hexdigest()
            if key in counted:
                continue
            try:
                receipt = ShareReceipt.from_content(event.content)
            except InvalidContent:
                continue
            if receipt.request_id not in shown:
                continue
            counted[key] = {
                "request_id": receipt.request_id,
                "clip_count": receipt.clip_count,
                "time_ms": event.timestamp_ms,
            }
            await self._audit.append(
                "receipt.counted", "a member hub", f"request:{receipt.request_id}",
                {"clip_count": receipt.clip_count},
            )  # fmt: skip
        write_json_atomically(self._ledger, ledger)

    async def _space_members(self, space_id: str) -> set[str]:
        state = checked(
            await self._host.client.room_get_state(space_id), "reading the group's members"
        )
        assert isinstance(state, RoomGetStateResponse)
        return {
            str(e.get("state_key"))
            for e in state.events
            if e.get("type") == "m.room.member" and e.get("content", {}).get("membership") == "join"
        }
