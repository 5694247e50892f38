"""The agency API's wire shapes: the request body an officer sends and the objects it answers
with (the agency role hub's own audience, `/api/v1/agency`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import probatio as vol

from doorward_hub.wire.bodies import number, text, whole
from doorward_hub.wire.objects import WireObject

LEGAL_BASES = ("consent", "warrant", "exigent")
MAX_VALID_FOR_HOURS = 90 * 24
MAX_CORNERS = 200
WARRANT_TYPES = ("application/pdf", "image/png", "image/jpeg")
"""A warrant document travels in the request's JSON body, base64-encoded (at most 4 MiB)."""


def _about(description: str) -> dict[str, str]:
    return {"description": description}


def zoned_time(value: Any) -> int:
    """An ISO 8601 time with its zone (e.g. `2026-11-30T14:00:00Z`), as Unix milliseconds."""
    raw = text(value)
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise vol.Invalid("expected an ISO 8601 time, e.g. 2026-11-30T14:00:00Z") from None
    if moment.tzinfo is None:
        raise vol.Invalid("the time needs its zone, e.g. 2026-11-30T14:00:00+01:00")
    return int(moment.timestamp() * 1000)


def _corner(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise vol.Invalid("a corner is [latitude, longitude]")
    latitude, longitude = number(value[0]), number(value[1])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise vol.Invalid("latitude must be within ±90 and longitude within ±180")
    return latitude, longitude


def _polygon(value: Any) -> list[tuple[float, float]]:
    if not isinstance(value, list) or not 3 <= len(value) <= MAX_CORNERS:
        raise vol.Invalid(f"expected 3 to {MAX_CORNERS} corners [[lat, lng], ...]")
    return [_corner(corner) for corner in value]


zoned_time.openapi_schema = {"type": "string", "format": "date-time"}  # type: ignore[attr-defined]
_polygon.openapi_schema = {  # type: ignore[attr-defined]
    "type": "array",
    "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
    "minItems": 3,
    "maxItems": MAX_CORNERS,
}


def _short(maximum: int) -> Any:
    return vol.All(text, vol.Length(min=1, max=maximum))


AGENCY_REQUEST = vol.Schema(
    {
        vol.Required("case_number", description="the agency's case or investigation number"): (
            _short(64)
        ),
        vol.Required("incident_type", description="e.g. `burglary`"): _short(64),
        vol.Required("description", description="what happened, for the households"): (
            _short(2000)
        ),
        vol.Required("legal_basis", description="`consent`, `warrant` or `exigent`"): vol.In(
            LEGAL_BASES
        ),
        vol.Required(
            "polygon", description="the area's corners, [[latitude, longitude], ...] (3 or more)"
        ): _polygon,
        vol.Required(
            "window",
            description="the footage asked for: `start` and `end`, ISO 8601 times with zone",
        ): {
            vol.Required("start"): zoned_time,
            vol.Required("end"): zoned_time,
        },
        vol.Optional(
            "valid_for_hours", default=7 * 24, description="how long households may answer"
        ): vol.All(whole, vol.Range(min=1, max=MAX_VALID_FOR_HOURS)),
        vol.Required("contact", description="how households reach the officer"): _short(200),
        vol.Optional(
            "warrant",
            description="a warrant document, encrypted before it leaves the agency's hub",
        ): {
            vol.Required("filename", description="e.g. `warrant-2026-77.pdf`"): _short(200),
            vol.Required(
                "mimetype", description="`application/pdf`, `image/png` or `image/jpeg`"
            ): (vol.In(WARRANT_TYPES)),
            vol.Required("content_base64", description="the document, base64-encoded"): text,
        },
    }
)
"""`POST /requests`: one footage request to the group."""


@dataclass(frozen=True, slots=True)
class TakeDown(WireObject):
    """The group bot took the request down: why."""

    code: str = field(metadata=_about("e.g. `area_too_large`, `window_too_long`, `replayed`"))
    reason: str


@dataclass(frozen=True, slots=True)
class RequestSent(WireObject):
    """A request as the group received it."""

    request_id: str
    event_id: str = field(metadata=_about("the Matrix event that carried it"))
    area_cells: int = field(metadata=_about("H3 cells (resolution 9) covering the polygon"))
    area_m2: int
    window_minutes: int
    expires: datetime


@dataclass(frozen=True, slots=True)
class SentRequestInfo(WireObject):
    """A request this agency sent, what the group did with it and what arrived for it."""

    request_id: str
    case_number: str
    incident_type: str
    legal_basis: str
    has_warrant: bool
    area_m2: int
    window_start: datetime
    window_end: datetime
    created: datetime
    expires: datetime
    event_id: str | None
    taken_down: TakeDown | None = field(
        metadata=_about("the group bot's take-down, or null while the request stands")
    )
    answers: int = field(metadata=_about("how many member hubs answered"))
    clips: int = field(metadata=_about("clips received (kept now or deleted since: kept only)"))
    verified_clips: int


@dataclass(frozen=True, slots=True)
class SentRequestList(WireObject):
    """Every request this agency sent, newest first."""

    requests: list[SentRequestInfo]


@dataclass(frozen=True, slots=True)
class EvidenceInfo(WireObject):
    """One received clip: only what its manifest and its verification say."""

    evidence_id: str
    request_id: str
    case_number: str
    verified: bool
    verification: str = field(metadata=_about("`verified`, or why it is not"))
    received: datetime
    expires: datetime = field(metadata=_about("deleted then (the household's retention)"))
    sha256: str | None = field(metadata=_about("of the clip as received (null: none arrived)"))
    hub_key_id: str | None = field(
        metadata=_about("the sharing hub's signing key, as its manifest names it")
    )
    downloadable: bool


@dataclass(frozen=True, slots=True)
class EvidenceList(WireObject):
    """The evidence kept, oldest first."""

    evidence: list[EvidenceInfo]
