"""The messages of the WebSocket push channel (`GET /api/v1/ws`), one dataclass each; `type`
tells them apart. The OpenAPI document lists them under `components/schemas/PushMessage`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from doorward_hub.wire.objects import (
    Clip,
    Doorbell,
    Event,
    Id,
    NeighborhoodStatus,
    NeighborPost,
    Seq,
    WireObject,
)

_SEQ = {"description": "its place in the one seq order of events and clip messages"}


@dataclass(frozen=True, slots=True)
class Hello(WireObject):
    """The first message: who the hub is and its highest seq."""

    hub_id: str
    version: str
    last_seq: Seq
    type: Literal["hello"] = "hello"


@dataclass(frozen=True, slots=True)
class EventMessage(WireObject):
    """A stored event (replayed after `after`, then live), in seq order."""

    event: Event
    type: Literal["event"] = "event"


@dataclass(frozen=True, slots=True)
class DoorbellMessage(WireObject):
    """A doorbell's current state: every doorbell after `hello`, then on each change."""

    doorbell: Doorbell
    type: Literal["doorbell"] = "doorbell"


@dataclass(frozen=True, slots=True)
class DoorbellRemoved(WireObject):
    """A doorbell was forgotten."""

    doorbell_id: str
    type: Literal["doorbell_removed"] = "doorbell_removed"


@dataclass(frozen=True, slots=True)
class SnapshotMessage(WireObject):
    """The picture of event `seq` is stored."""

    seq: Id
    doorbell_id: str
    type: Literal["snapshot"] = "snapshot"


@dataclass(frozen=True, slots=True)
class ClipMessage(WireObject):
    """A clip is stored (replayed after `after`, then live, in seq order with events)."""

    clip: Clip
    seq: Id = field(metadata=_SEQ)
    type: Literal["clip"] = "clip"


@dataclass(frozen=True, slots=True)
class ClipRemoved(WireObject):
    """A clip was deleted, by retention or a client (replayed like `clip`)."""

    clip_id: Id
    seq: Id = field(metadata=_SEQ)
    type: Literal["clip_removed"] = "clip_removed"


@dataclass(frozen=True, slots=True)
class NeighborCommentRef(WireObject):
    """A neighbor's reply or thread message, with the post it belongs to."""

    event_id: str
    post_event_id: str
    sender: str
    sent_ms: int
    body: str


@dataclass(frozen=True, slots=True)
class NeighborPostMessage(WireObject):
    """A neighbor's post arrived from the group, decrypted and checked (live only)."""

    post: NeighborPost
    type: Literal["neighbor_post"] = "neighbor_post"


@dataclass(frozen=True, slots=True)
class NeighborCommentMessage(WireObject):
    """A neighbor's reply or thread message on a post (live only)."""

    comment: NeighborCommentRef
    type: Literal["neighbor_comment"] = "neighbor_comment"


@dataclass(frozen=True, slots=True)
class NeighborhoodMessage(WireObject):
    """The neighborhood status changed: joined, left, removed by an admin, member count,
    syncing stopped (live only: `GET /api/v1/neighborhood` gives it after a reconnect)."""

    status: NeighborhoodStatus
    type: Literal["neighborhood"] = "neighborhood"


PUSH_MESSAGES: tuple[type[WireObject], ...] = (
    Hello,
    EventMessage,
    DoorbellMessage,
    DoorbellRemoved,
    SnapshotMessage,
    ClipMessage,
    ClipRemoved,
    NeighborPostMessage,
    NeighborCommentMessage,
    NeighborhoodMessage,
)
"""Every message the push channel sends."""
