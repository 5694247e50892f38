"""The group's rules for police requests, checked the same way by the group bot and every hub.

Authority comes only from the space's state (which the homeserver lets only admins set): the
`org.doorward.agency` records say who may send requests, `org.doorward.group` says what a request
may ask for. Encrypted content cannot grant itself anything (DESIGN.md, invariant 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ..neighborhood.event_types import GroupPolicy
from .event_types import AgencyRecord, PoliceRequest

CLOCK_SKEW_MS: Final = 5 * 60_000
"""How far a request's `created_ms` may lie from the homeserver's timestamp of its event."""


@dataclass(frozen=True)
class Refusal:
    """Why a request is not acted on; `code` is stable, `reason` is for people."""

    code: str
    """`not_an_agency`, `agency_suspended`, `agency_removed`, `sender_mismatch`,
    `out_of_policy`, `expired`, `clock`."""
    reason: str


def sender_refusal(sender: str, agencies: Mapping[str, AgencyRecord]) -> Refusal | None:
    """None if `sender` is an agency the group's admins list as active."""
    record = agencies.get(sender)
    if record is None:
        return Refusal("not_an_agency", f"{sender} is not an agency admitted by this group")
    if record.status == "suspended":
        return Refusal("agency_suspended", f"{record.name} is suspended by the group's admins")
    if record.status != "active":
        return Refusal("agency_removed", f"{record.name} was removed by the group's admins")
    return None


def request_refusal(
    request: PoliceRequest,
    *,
    sender: str,
    event_ms: int,
    policy: GroupPolicy,
    agencies: Mapping[str, AgencyRecord],
    now_ms: int,
) -> Refusal | None:
    """None if the request may be shown to households; otherwise the first reason it may not."""
    refusal = sender_refusal(sender, agencies)
    if refusal is not None:
        return refusal
    if request.agency != sender:
        return Refusal("sender_mismatch", "the request names another agency than its sender")
    if abs(request.created_ms - event_ms) > CLOCK_SKEW_MS:
        return Refusal("clock", "the request's creation time does not match when it was sent")
    if request.expires_ms <= now_ms:
        return Refusal("expired", "the request has expired")
    problems = policy_problems(request, policy)
    if problems:
        return Refusal("out_of_policy", "; ".join(problems))
    return None


def policy_problems(request: PoliceRequest, policy: GroupPolicy) -> list[str]:
    """Every way the request exceeds the group's policy (empty if it is within it)."""
    problems: list[str] = []
    if request.legal_basis not in policy.legal_bases:
        accepted = ", ".join(policy.legal_bases)
        problems.append(f"legal basis {request.legal_basis!r} is not accepted ({accepted} are)")
    if policy.warrant_required and request.warrant is None:
        problems.append("the group requires a warrant document and none is attached")
    area = request.area_m2
    if area > policy.max_request_area_m2:
        problems.append(
            f"the area is {area} m², larger than the group's limit of "
            f"{policy.max_request_area_m2} m²"
        )
    if request.window_minutes > policy.max_request_window_minutes:
        problems.append(
            f"the time window is {request.window_minutes} minutes, longer than the group's "
            f"limit of {policy.max_request_window_minutes} minutes"
        )
    if request.window_start_ms > request.created_ms:
        problems.append("the time window starts after the request was made (no future footage)")
    return problems
