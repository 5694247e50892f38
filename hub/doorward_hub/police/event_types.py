"""The police requests' Matrix event types and their content shapes (documented in docs/police.md).

Every parser here is strict: content that does not have the documented shape raises
`InvalidContent` with a reason a person can read. Matrix events are canonical JSON, so every
number is a whole number (times in milliseconds since the Unix epoch, areas in square metres).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..neighborhood.event_types import AGENCY, TRANSPARENCY, InvalidContent

REQUEST: Final = "org.doorward.request"
"""A police request, sent by an admitted agency in the group's `requests` room."""
ANSWER: Final = "org.doorward.answer"
"""One shared clip of a household's answer, in the encrypted direct room with the agency."""
SHARE_RECEIPT: Final = "org.doorward.share_receipt"
"""A household tells the group bot how many clips it shared for a request (nothing else)."""
REJECTION: Final = "org.doorward.request_rejected"
"""The group bot tells an agency why its request was taken down."""

__all__ = [
    "AGENCY",
    "ANSWER",
    "REJECTION",
    "REQUEST",
    "SHARE_RECEIPT",
    "TRANSPARENCY",
    "AgencyRecord",
    "InvalidContent",
    "PoliceRequest",
    "ShareReceipt",
]

AREA_RESOLUTION: Final = 9
"""Requests name their area as H3 cells at resolution 9 (about 0.1 km² each)."""
MAX_AREA_CELLS: Final = 2000
"""More cells than this would not fit in one Matrix event (65 kB); policies allow far fewer."""
MAX_TEXT: Final = 2000
LEGAL_BASES: Final = ("consent", "warrant", "exigent")
AGENCY_STATUSES: Final = ("active", "suspended", "removed")
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

type AgencyStatus = Literal["active", "suspended", "removed"]

AGENCY_KEY_PREFIX: Final = "agency:"
"""Agency records' state keys are `agency:` + the agency's Matrix id: the homeserver refuses
state keys that are another user's id ("not allowed to set others state"), even from admins."""


def agency_state_key(user_id: str) -> str:
    """The state key of `user_id`'s agency record."""
    return AGENCY_KEY_PREFIX + user_id


def agency_from_state_key(state_key: str) -> str | None:
    """The agency's Matrix id from a record's state key, or None if it is not one."""
    if not state_key.startswith(AGENCY_KEY_PREFIX + "@"):
        return None
    return state_key.removeprefix(AGENCY_KEY_PREFIX)


def _text(content: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = content.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidContent(f"{key} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise InvalidContent(f"{key} is longer than {MAX_TEXT} characters")
    return value


def _whole(content: dict[str, Any], key: str) -> int:
    value = content.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidContent(f"{key} must be a whole number of milliseconds")
    return value


def _object(content: Any, what: str) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise InvalidContent(f"{what} must be a JSON object")
    return content


@dataclass(frozen=True)
class AgencyRecord:
    """An agency as the group's admins admitted it (`org.doorward.agency`, state key
    `agency:<its Matrix id>`).

    The homeserver lets only admins (power 100) set this state, so it is the authority on who may
    send requests: hubs and the group bot act only on requests whose sender is `active` here.
    """

    user_id: str
    name: str
    jurisdiction: str
    status: AgencyStatus
    admitted_by: str
    admitted_ms: int
    changed_by: str
    changed_ms: int
    reason: str = ""

    @property
    def active(self) -> bool:
        """True if the agency may send requests now."""
        return self.status == "active"

    def to_content(self) -> dict[str, Any]:
        """The record as state content."""
        return {
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "status": self.status,
            "admitted_by": self.admitted_by,
            "admitted_ms": self.admitted_ms,
            "changed_by": self.changed_by,
            "changed_ms": self.changed_ms,
            "reason": self.reason,
            "version": 1,
        }

    @classmethod
    def from_event(cls, state_key: str, content: Any) -> AgencyRecord:
        """Parse an agency record; `InvalidContent` says what is wrong."""
        body = _object(content, AGENCY)
        status = body.get("status")
        if status not in AGENCY_STATUSES:
            raise InvalidContent(f"status must be one of {', '.join(AGENCY_STATUSES)}")
        return cls(
            user_id=state_key,
            name=_text(body, "name"),
            jurisdiction=_text(body, "jurisdiction"),
            status=status,
            admitted_by=_text(body, "admitted_by"),
            admitted_ms=_whole(body, "admitted_ms"),
            changed_by=_text(body, "changed_by"),
            changed_ms=_whole(body, "changed_ms"),
            reason=_text(body, "reason", required=False),
        )


@dataclass(frozen=True)
class WarrantDocument:
    """A warrant attached to a request: an encrypted attachment (`file` block as in `m.file`)."""

    file: dict[str, Any]
    """`url`, `key`, `iv`, `hashes`, `v`: what `decrypt_attachment` needs."""
    filename: str
    mimetype: str
    size: int

    def to_content(self) -> dict[str, Any]:
        """As it travels inside the request."""
        return {
            "file": self.file,
            "filename": self.filename,
            "mimetype": self.mimetype,
            "size": self.size,
        }

    @classmethod
    def from_content(cls, content: Any) -> WarrantDocument:
        """Parse the warrant block."""
        body = _object(content, "warrant")
        file = _object(body.get("file"), "warrant.file")
        for key in ("url", "key", "iv", "hashes"):
            if key not in file:
                raise InvalidContent(f"warrant.file lacks {key}")
        if not str(file["url"]).startswith("mxc://"):
            raise InvalidContent("warrant.file.url must be an mxc:// URL")
        size = body.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise InvalidContent("warrant.size must be a positive whole number")
        return cls(file, _text(body, "filename"), _text(body, "mimetype"), size)


@dataclass(frozen=True)
class PoliceRequest:
    """A bounded footage request (`org.doorward.request`), shown to households in full."""

    request_id: str
    agency: str
    """The sending agency's Matrix id; must equal the event's sender."""
    case_number: str
    incident_type: str
    description: str
    legal_basis: str
    area_cells: tuple[str, ...]
    """H3 cells at resolution 9; a home is inside if its own resolution-9 cell is listed."""
    window_start_ms: int
    window_end_ms: int
    created_ms: int
    expires_ms: int
    contact: str
    warrant: WarrantDocument | None = None

    @property
    def area_m2(self) -> int:
        """The area's size: the sum of its cells' areas."""
        import h3  # noqa: PLC0415 - keeps the wire shapes importable without the H3 library

        return round(sum(float(h3.cell_area(cell, "m^2")) for cell in self.area_cells))

    @property
    def window_minutes(self) -> int:
        """The time window's length, rounded up to whole minutes."""
        return -(-(self.window_end_ms - self.window_start_ms) // 60_000)

    def body(self) -> str:
        """The plain-text rendering any Matrix client shows."""
        warrant = "warrant attached" if self.warrant else "no warrant attached"
        return (
            f"Police footage request {self.case_number} ({self.incident_type}, "
            f"{self.legal_basis}, {warrant}): {self.description}\n"
            f"Area: {len(self.area_cells)} cells, about {self.area_m2 / 1e6:.2f} km². "
            f"Window: {self.window_minutes} minutes. Contact: {self.contact}. "
            "Each household decides by hand whether to share anything."
        )

    def to_content(self) -> dict[str, Any]:
        """The event content, with its plain-text `body`."""
        content: dict[str, Any] = {
            "body": self.body(),
            "msgtype": "m.notice",
            "request_id": self.request_id,
            "agency": self.agency,
            "case_number": self.case_number,
            "incident_type": self.incident_type,
            "description": self.description,
            "legal_basis": self.legal_basis,
            "area": {"resolution": AREA_RESOLUTION, "cells": list(self.area_cells)},
            "window": {"start_ms": self.window_start_ms, "end_ms": self.window_end_ms},
            "created_ms": self.created_ms,
            "expires_ms": self.expires_ms,
            "contact": self.contact,
            "version": 1,
        }
        if self.warrant is not None:
            content["warrant"] = self.warrant.to_content()
        return content

    @classmethod
    def from_content(cls, content: Any) -> PoliceRequest:
        """Parse a request; `InvalidContent` says what is wrong (the group bot tells the agency)."""
        import h3  # noqa: PLC0415

        body = _object(content, REQUEST)
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
            raise InvalidContent("request_id must be 8 to 64 letters, digits, '-' or '_'")
        legal_basis = _text(body, "legal_basis")
        if legal_basis not in LEGAL_BASES:
            raise InvalidContent(f"legal_basis must be one of {', '.join(LEGAL_BASES)}")
        area = _object(body.get("area"), "area")
        cells = area.get("cells")
        if area.get("resolution") != AREA_RESOLUTION or not isinstance(cells, list) or not cells:
            raise InvalidContent(f"area must list H3 cells at resolution {AREA_RESOLUTION}")
        if len(cells) > MAX_AREA_CELLS:
            raise InvalidContent(f"area lists more than {MAX_AREA_CELLS} cells")
        for cell in cells:
            if not (
                isinstance(cell, str)
                and h3.is_valid_cell(cell)
                and h3.get_resolution(cell) == AREA_RESOLUTION
            ):
                raise InvalidContent(f"area cell {cell!r} is not an H3 cell at resolution 9")
        if len(set(cells)) != len(cells):
            raise InvalidContent("area lists a cell twice")
        window = _object(body.get("window"), "window")
        start, end = _whole(window, "start_ms"), _whole(window, "end_ms")
        if end <= start:
            raise InvalidContent("the window must end after it starts")
        created, expires = _whole(body, "created_ms"), _whole(body, "expires_ms")
        if expires <= created:
            raise InvalidContent("the request must expire after it was made")
        warrant = body.get("warrant")
        return cls(
            request_id=request_id,
            agency=_text(body, "agency"),
            case_number=_text(body, "case_number"),
            incident_type=_text(body, "incident_type"),
            description=_text(body, "description"),
            legal_basis=legal_basis,
            area_cells=tuple(str(cell) for cell in cells),
            window_start_ms=start,
            window_end_ms=end,
            created_ms=created,
            expires_ms=expires,
            contact=_text(body, "contact"),
            warrant=None if warrant is None else WarrantDocument.from_content(warrant),
        )


@dataclass(frozen=True)
class ShareReceipt:
    """What a household tells the group bot after answering: the request and a clip count.

    Sent in a direct room with the bot; it never names the clips, the recipient or the home.
    Declining sends no receipt, so the bot (and the agency) never learn who declined.
    """

    request_id: str
    clip_count: int

    def to_content(self) -> dict[str, Any]:
        """The event content."""
        return {
            "body": f"Shared {self.clip_count} clip(s) for request {self.request_id}.",
            "msgtype": "m.notice",
            "request_id": self.request_id,
            "clip_count": self.clip_count,
            "version": 1,
        }

    @classmethod
    def from_content(cls, content: Any) -> ShareReceipt:
        """Parse a receipt."""
        body = _object(content, SHARE_RECEIPT)
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
            raise InvalidContent("request_id is not a request id")
        count = body.get("clip_count")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= 1000:
            raise InvalidContent("clip_count must be a whole number from 1 to 1000")
        return cls(request_id, count)
