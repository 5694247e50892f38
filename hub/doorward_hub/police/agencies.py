"""Group admins admit, suspend and remove police agencies (`org.doorward.agency` space state).

The homeserver lets only admins (power 100) set this state, so it is the authority on which
senders' requests anyone acts on. Admitting invites the agency to the space (read-only there:
it reads the agency list, the policy and the member hubs' published keys, which it verifies
answers with) and the `requests` room, never the feed or the admins' room; removing takes it
out of both.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Final

from ..neighborhood.account import checked
from ..neighborhood.errors import MatrixError
from ..neighborhood.event_types import AGENCY
from ..neighborhood.group_host import GroupHost, HostedGroup
from .event_types import AgencyRecord, AgencyStatus, agency_state_key
from .group_state import read_group_rules

_USER_ID: Final = re.compile(r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$")


class AgencyAdmin:
    """The group admin's agency commands, on the group the host created."""

    def __init__(self, host: GroupHost, clock: Callable[[], float] = time.time) -> None:
        """Act as `host`'s admin account."""
        self._host = host
        self._clock = clock

    @property
    def group(self) -> HostedGroup:
        """The group the agencies are admitted to."""
        return self._host.group()

    async def agencies(self) -> list[AgencyRecord]:
        """Every agency the group ever admitted, with its current status, sorted by id."""
        rules = await read_group_rules(self._host.client, self._host.group().space_id)
        return sorted(rules.agencies.values(), key=lambda record: record.user_id)

    async def admit(self, user_id: str, name: str, jurisdiction: str) -> AgencyRecord:
        """Admit (or re-admit) an agency and invite it to the `requests` room."""
        if not _USER_ID.match(user_id):
            raise MatrixError(f"{user_id!r} is not a Matrix user id (@name:server)")
        if not name.strip() or not jurisdiction.strip():
            raise MatrixError("an agency needs a name and a jurisdiction")
        group = self._host.group()
        members = {member.user_id for member in await self._host.members()}
        known = {record.user_id for record in await self.agencies()}
        if user_id in members and user_id not in known:
            raise MatrixError(
                f"{user_id} is a member of the group; an agency needs its own account"
            )
        now = int(self._clock() * 1000)
        admin = str(self._host.client.user_id)
        record = AgencyRecord(user_id, name, jurisdiction, "active", admin, now, admin, now)
        await self._publish(record)
        for room_id in (group.space_id, group.rooms["requests"]):
            if await self._membership(room_id, user_id) not in ("join", "invite"):
                checked(
                    await self._host.client.room_invite(room_id, user_id),
                    f"inviting {user_id} to the group",
                )
        return record

    async def suspend(self, user_id: str, reason: str) -> AgencyRecord:
        """Stop acting on the agency's requests (it stays in `requests`, its requests are taken
        down); `admit` reinstates it."""
        return await self._change(user_id, "suspended", reason)

    async def remove(self, user_id: str, reason: str) -> AgencyRecord:
        """End the admission and take the agency out of the `requests` room."""
        record = await self._change(user_id, "removed", reason)
        group = self._host.group()
        for room_id in (group.rooms["requests"], group.space_id):
            if await self._membership(room_id, user_id) in ("join", "invite"):
                checked(
                    await self._host.client.room_kick(room_id, user_id, reason),
                    f"removing {user_id} from the group",
                )
        return record

    async def _change(self, user_id: str, status: AgencyStatus, reason: str) -> AgencyRecord:
        known = {record.user_id: record for record in await self.agencies()}
        current = known.get(user_id)
        if current is None or current.status == "removed":
            raise MatrixError(f"{user_id} is not an agency of {self._host.group().name!r}")
        now = int(self._clock() * 1000)
        record = AgencyRecord(
            user_id=user_id,
            name=current.name,
            jurisdiction=current.jurisdiction,
            status=status,
            admitted_by=current.admitted_by,
            admitted_ms=current.admitted_ms,
            changed_by=str(self._host.client.user_id),
            changed_ms=now,
            reason=reason,
        )
        await self._publish(record)
        return record

    async def _publish(self, record: AgencyRecord) -> None:
        checked(
            await self._host.client.room_put_state(
                self._host.group().space_id,
                AGENCY,
                record.to_content(),
                state_key=agency_state_key(record.user_id),
            ),
            f"publishing the agency record of {record.user_id}",
        )

    async def _membership(self, room_id: str, user_id: str) -> str | None:
        state = await self._host.client.room_get_state_event(room_id, "m.room.member", user_id)
        content = getattr(state, "content", None)
        return str(content.get("membership")) if isinstance(content, dict) else None
