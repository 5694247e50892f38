"""What the neighbor feed offers: posts and comments of the group, as the hub API shows them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NeighborPost:
    """A post as the hub offers it."""

    event_id: str
    sender: str
    sent_ms: int
    kind: str
    """`video` or `text`."""
    body: str
    message: str
    cell: str | None
    cells_from_home: int | None
    start_ms: int | None
    duration_ms: int | None
    trigger: str | None
    verified: bool
    verification: str
    video_file: str | None
    thumbnail_file: str | None

    def to_json(self) -> dict[str, Any]:
        """The post object of the hub API."""
        return {
            "event_id": self.event_id,
            "sender": self.sender,
            "sent_ms": self.sent_ms,
            "kind": self.kind,
            "body": self.body,
            "message": self.message,
            "cell": self.cell,
            "cells_from_home": self.cells_from_home,
            "start_ms": self.start_ms,
            "duration_ms": self.duration_ms,
            "trigger": self.trigger,
            "verified": self.verified,
            "verification": self.verification,
            "has_video": self.video_file is not None,
            "has_thumbnail": self.thumbnail_file is not None,
        }


@dataclass(frozen=True)
class Comment:
    """A reply or thread message on a post."""

    event_id: str
    post_event_id: str
    sender: str
    sent_ms: int
    body: str


type FeedListener = Callable[[NeighborPost | Comment], None]
