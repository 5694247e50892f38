"""A police request as this household was shown it: the clips that match it, what became of
it, and why an answer could not be given. Plain data, apart from the Matrix client, so the
hub's API can describe requests without loading it (a hub in no group never does)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .event_types import PoliceRequest

type RequestState = Literal["pending", "answered", "declined", "expired"]


class AnswerError(Exception):
    """An answer that cannot be given; `code` says which kind, the message why."""

    def __init__(self, code: str, message: str) -> None:
        """`code`: not_found, not_pending, expired, not_matching, no_clips."""
        super().__init__(message)
        self.code = code


@dataclass
class PendingRequest:
    """A request this household was asked, with the clips that match it and what became of it."""

    request: PoliceRequest
    event_id: str
    received_ms: int
    clip_ids: list[str]
    state: RequestState = "pending"
    shared_clip_ids: list[str] = field(default_factory=list)
    answered_ms: int | None = None
    declined_by_rule: str | None = None
    """The household's decline rule that declined it as it arrived (None: a person did)."""
    decline_reason: str | None = None
    agency_name: str = ""
    """The agency's name and jurisdiction as the group admitted it, when the request came."""
    agency_jurisdiction: str = ""

    def to_json(self) -> dict[str, Any]:
        """As kept on disk."""
        return {
            "request": self.request.to_content(),
            "event_id": self.event_id,
            "received_ms": self.received_ms,
            "clip_ids": self.clip_ids,
            "state": self.state,
            "shared_clip_ids": self.shared_clip_ids,
            "answered_ms": self.answered_ms,
            "declined_by_rule": self.declined_by_rule,
            "decline_reason": self.decline_reason,
            "agency_name": self.agency_name,
            "agency_jurisdiction": self.agency_jurisdiction,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PendingRequest:
        """From what `to_json` wrote."""
        return cls(
            request=PoliceRequest.from_content(raw["request"]),
            event_id=str(raw["event_id"]),
            received_ms=int(raw["received_ms"]),
            clip_ids=[str(c) for c in raw["clip_ids"]],
            state=raw["state"],
            shared_clip_ids=[str(c) for c in raw["shared_clip_ids"]],
            answered_ms=raw.get("answered_ms"),
            declined_by_rule=raw.get("declined_by_rule"),
            decline_reason=raw.get("decline_reason"),
            agency_name=str(raw.get("agency_name", "")),
            agency_jurisdiction=str(raw.get("agency_jurisdiction", "")),
        )


@dataclass(frozen=True)
class AnswerResult:
    """What an answer sent: one export per shared clip."""

    request_id: str
    shared_clip_ids: list[str]
    references: list[str]


type RequestListener = Callable[[PendingRequest], Awaitable[None]]
