"""A group with its bot, an admitted agency and a plain member, on the test session's Synapse."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doorward_hub.audit.log import AuditLog
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.neighborhood.group_host import GroupHost
from doorward_hub.police.agencies import AgencyAdmin
from doorward_hub.police.agency import AgencyHub, RequestDraft
from doorward_hub.police.evidence import EvidenceStore
from doorward_hub.police.layout import agency_folder, evidence_folder
from doorward_hub.police.moderation import RequestModerator

from ..neighborhood.element import PlainClient
from .conftest import synapse

# About 220 m x 170 m in Amsterdam's centre (the neighborhood tests' homes are here).
BLOCK = [(52.3695, 4.8940), (52.3710, 4.8940), (52.3710, 4.8965), (52.3695, 4.8965)]


@dataclass
class PoliceGroup:
    """The group host (admin + bot), the agency's hub and one member's plain client."""

    host: GroupHost
    admin: AgencyAdmin
    bot: RequestModerator
    host_audit: AuditLog
    agency: AgencyHub
    agency_audit: AuditLog
    member: PlainClient
    agency_id: str

    async def close(self) -> None:
        """Close every client."""
        await self.member.close()
        await self.agency.close()
        await self.host.close()


async def make_group(
    homeserver: Any,
    tmp: Path,
    policy: GroupPolicy,
    clock: Callable[[], float] = time.time,
    agency_data: Path | None = None,
) -> PoliceGroup:
    """Create the group, admit the agency, let everyone sync so keys are known to all.

    With `agency_data`, the agency hub is kept as `doorward-hub agency serve` finds it in that
    data folder."""
    admin_name = f"host-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    synapse.register(homeserver, admin_name, password, admin=True)
    host = await GroupHost.sign_in(tmp / "host", homeserver.url, admin_name, password)
    group = await host.create("Elm Street", policy)
    host_audit = await AuditLog.open(tmp / "host")
    admin = AgencyAdmin(host)
    agency_name = f"police-{secrets.token_hex(4)}"
    agency_password = secrets.token_urlsafe(16)
    synapse.register(homeserver, agency_name, agency_password)
    agency_id = f"@{agency_name}:{homeserver.server_name}"
    await admin.admit(agency_id, "Elm PD", "Elm County")
    member = await PlainClient.join(await host.invite(), tmp / "member")
    bot = RequestModerator(host, host_audit)
    await bot.sync_once()
    data = agency_data or tmp / "agency"
    agency_audit = await AuditLog.open(data, clock)
    matrix, evidence = (
        (agency_folder(data), evidence_folder(data))
        if agency_data
        else (data / "matrix", data / "evidence")
    )
    agency = await AgencyHub.join(
        matrix,
        agency_audit,
        EvidenceStore(evidence, agency_audit, clock),
        homeserver=homeserver.url,
        user=agency_name,
        password=agency_password,
        space_id=group.space_id,
        requests_room=group.rooms["requests"],
        clock=clock,
    )
    for _ in range(2):
        await bot.sync_once()
        await agency.sync_once()
        await member.sync()
    return PoliceGroup(host, admin, bot, host_audit, agency, agency_audit, member, agency_id)


def draft(**changes: Any) -> RequestDraft:
    """A request within the default policy: one hour, two hours ago, about 0.2 km²."""
    now_ms = int(time.time() * 1000)
    fields: dict[str, Any] = {
        "case_number": "2026-1234",
        "incident_type": "burglary",
        "description": "Break-in at number 12",
        "legal_basis": "consent",
        "polygon": BLOCK,
        "window_start_ms": now_ms - 3 * 3600_000,
        "window_end_ms": now_ms - 2 * 3600_000,
        "valid_for_s": 7 * 86_400,
        "contact": "detective@elm-pd.example",
    } | changes
    return RequestDraft(**fields)


async def until[T](check: Callable[[], T | None], step: Callable[[], Awaitable[Any]]) -> T:
    """Run `step` until `check` gives something truthy (at most 30 rounds)."""
    for _ in range(30):
        await step()
        result = check()
        if result:
            return result
    raise AssertionError("condition not met after 30 syncs")
