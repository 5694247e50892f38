"""The JSON objects the hub answers with, as typed dataclasses (mashumaro serializes them and
writes their JSON Schema for the OpenAPI document)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Self

from mashumaro.config import BaseConfig
from mashumaro.jsonschema.annotations import Maximum, Minimum
from mashumaro.mixins.dict import DataClassDictMixin

from doorward_hub.models import ClipTrigger, DoorbellStatus, EventType
from doorward_hub.protocol import Capability

if TYPE_CHECKING:
    from doorward_hub import models

MAX_ID = 2**63 - 1
"""The largest id (clip id, event seq) the hub stores: SQLite's largest integer."""

Id = Annotated[int, Minimum(1), Maximum(MAX_ID)]
Seq = Annotated[int, Minimum(0), Maximum(MAX_ID)]


def iso_z(moment: datetime) -> str:
    """A UTC time as ISO 8601 with milliseconds and `Z`: how every time of the API is written."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc(timestamp: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)


def _about(text: str) -> dict[str, str]:
    """A field's description in the OpenAPI document."""
    return {"description": text}


class WireObject(DataClassDictMixin):
    """An object of the API: `to_dict()` is its JSON form; times are written by `iso_z`."""

    class Config(BaseConfig):
        """Times as the API writes them."""

        serialization_strategy = {datetime: {"serialize": iso_z}}  # noqa: RUF012


@dataclass(frozen=True, slots=True)
class Error(WireObject):
    """Every error answer of the API."""

    error: str = field(metadata=_about("machine-readable code, e.g. `unknown_doorbell`"))
    message: str = field(metadata=_about("the reason, for a person"))


@dataclass(frozen=True, slots=True)
class HubInfo(WireObject):
    """Who the hub is: the same facts its mDNS record carries."""

    hub_id: str
    name: str
    version: str
    api_version: int


@dataclass(frozen=True, slots=True)
class PairingResult(WireObject):
    """A new client token; the secret is shown this once."""

    token: str
    token_id: str
    hub_id: str


@dataclass(frozen=True, slots=True)
class Token(WireObject):
    """A client token as listed (never the secret)."""

    id: str
    client_name: str
    created: datetime
    last_used: datetime | None

    @classmethod
    def of(cls, token: models.TokenInfo) -> Self:
        """The wire form of a stored token."""
        last_used = utc(token.last_used) if token.last_used else None
        return cls(token.id, token.client_name, utc(token.created), last_used)


@dataclass(frozen=True, slots=True)
class TokenList(WireObject):
    """Every valid client token."""

    tokens: list[Token]


@dataclass(frozen=True, slots=True)
class Doorbell(WireObject):
    """A doorbell the hub knows (never its credentials)."""

    id: str
    name: str
    model: str
    driver: str = field(
        metadata=_about("`doorward` (the open protocol) or a vendor driver, e.g. `doorbird`")
    )
    host: str
    port: int
    capabilities: list[Capability]
    status: DoorbellStatus
    online: bool = field(metadata=_about("`status` is `online`"))
    error: str | None = field(metadata=_about("why `status` is `error`"))
    last_seen: datetime | None
    privacy_mode: bool = field(metadata=_about("no recording, no snapshots, no sharing"))
    record_audio: bool = field(metadata=_about("clips keep the audio track"))
    retention_days: float | None = field(
        metadata=_about("days its clips are kept; null: the hub's default")
    )
    firmware: str | None

    @classmethod
    def of(cls, doorbell: models.Doorbell) -> Self:
        """The wire form of a doorbell (capabilities the hub does not know are left out)."""
        return cls(
            id=doorbell.id,
            name=doorbell.name,
            model=doorbell.model,
            driver=doorbell.driver,
            host=doorbell.host,
            port=doorbell.port,
            capabilities=[Capability(c) for c in sorted(doorbell.capabilities) if c in Capability],
            status=doorbell.status,
            online=doorbell.status is DoorbellStatus.ONLINE,
            error=doorbell.error,
            last_seen=utc(doorbell.last_seen) if doorbell.last_seen else None,
            privacy_mode=doorbell.privacy_mode,
            record_audio=doorbell.record_audio,
            retention_days=doorbell.retention_days,
            firmware=doorbell.firmware,
        )


@dataclass(frozen=True, slots=True)
class DoorbellList(WireObject):
    """Every doorbell the hub knows, including those waiting for approval."""

    doorbells: list[Doorbell]


@dataclass(frozen=True, slots=True)
class Event(WireObject):
    """A stored event."""

    seq: Id = field(
        metadata=_about("the hub's event id: increases by one per stored event, never repeats")
    )
    doorbell_id: str
    type: EventType
    time: datetime = field(metadata=_about("when the hub stored it"))
    device_time: float | None = field(
        metadata=_about("the doorbell's own time, Unix seconds, if it sent one")
    )
    presses: int = field(metadata=_about("presses merged into this event"))
    has_snapshot: bool = field(metadata=_about("`GET /events/{seq}/snapshot` has its picture"))
    button: str | None = field(
        metadata=_about("the button pressed, on stations that say (DoorBird: its input)")
    )

    @classmethod
    def of(cls, event: models.Event) -> Self:
        """The wire form of a stored event."""
        return cls(
            seq=event.seq,
            doorbell_id=event.doorbell_id,
            type=event.type,
            time=utc(event.time),
            device_time=event.device_time,
            presses=event.presses,
            has_snapshot=event.has_snapshot,
            button=event.button,
        )


@dataclass(frozen=True, slots=True)
class EventPage(WireObject):
    """A page of events, oldest first."""

    events: list[Event]
    last_seq: Seq = field(metadata=_about("the highest seq in the hub"))
    more: bool = field(metadata=_about("more events follow: ask again with `after` = the last seq"))


@dataclass(frozen=True, slots=True)
class Clip(WireObject):
    """A recorded clip: an MP4 and its thumbnail."""

    id: Id
    doorbell_id: str
    trigger: ClipTrigger
    trigger_seq: int | None = field(metadata=_about("the event that started it; null for manual"))
    trigger_time: datetime
    start: datetime
    end: datetime
    start_device_time: float = field(metadata=_about("`start` in Unix seconds"))
    end_device_time: float = field(metadata=_about("`end` in Unix seconds"))
    duration: float = field(metadata=_about("seconds"))
    size: int = field(metadata=_about("bytes"))
    sha256: str = field(metadata=_about("hash of the MP4"))
    file_name: str
    has_audio: bool

    @classmethod
    def of(cls, clip: models.Clip) -> Self:
        """The wire form of an indexed clip."""
        return cls(
            id=clip.id,
            doorbell_id=clip.doorbell_id,
            trigger=clip.trigger,
            trigger_seq=clip.trigger_seq,
            trigger_time=utc(clip.trigger_time),
            start=utc(clip.start),
            end=utc(clip.end),
            start_device_time=clip.start,
            end_device_time=clip.end,
            duration=round(clip.end - clip.start, 3),
            size=clip.size,
            sha256=clip.sha256,
            file_name=clip.file_name,
            has_audio=clip.has_audio,
        )


@dataclass(frozen=True, slots=True)
class ClipPage(WireObject):
    """A page of clips, newest first."""

    clips: list[Clip]
    more: bool = field(metadata=_about("more clips follow: ask again with `before` = the last id"))


@dataclass(frozen=True, slots=True)
class RecordingStarted(WireObject):
    """A manual recording was started; a `clip` WebSocket message follows when it is stored."""

    doorbell_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Removal(WireObject):
    """Who removed this hub from its neighborhood group, and why."""

    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class NeighborhoodStatus(WireObject):
    """The neighborhood group this hub is in, if any."""

    joined: bool
    group_name: str | None
    user_id: str | None
    home_cell: str | None = field(metadata=_about("H3 cell of the home, resolution 8"))
    removed: Removal | None
    sync_error: str | None = field(metadata=_about("why syncing stopped for good"))
    member_count: int | None = field(
        default=None,
        metadata=_about("accounts joined to the group's space (hubs and people); null: not known"),
    )


@dataclass(frozen=True, slots=True)
class HomeCell(WireObject):
    """The H3 cell (resolution 8) kept for the home location."""

    home_cell: str


@dataclass(frozen=True, slots=True)
class NeighborComment(WireObject):
    """A reply or thread message on a neighbor's post."""

    event_id: str
    sender: str
    sent_ms: int
    body: str


@dataclass(frozen=True, slots=True)
class NeighborPost(WireObject):
    """A post of the neighborhood group: a shared clip or a text."""

    event_id: str
    sender: str
    sent_ms: int
    kind: str = field(metadata=_about("`video` or `text`"))
    body: str
    message: str
    cell: str | None
    cells_from_home: int | None
    start_ms: int | None
    duration_ms: int | None
    trigger: str | None
    verified: bool
    verification: str
    has_video: bool
    has_thumbnail: bool


@dataclass(frozen=True, slots=True)
class NeighborPostPage(WireObject):
    """The group's posts, newest first."""

    posts: list[NeighborPost]


@dataclass(frozen=True, slots=True)
class NeighborThread(WireObject):
    """One post and its comments."""

    event_id: str
    sender: str
    sent_ms: int
    kind: str = field(metadata=_about("`video` or `text`"))
    body: str
    message: str
    cell: str | None
    cells_from_home: int | None
    start_ms: int | None
    duration_ms: int | None
    trigger: str | None
    verified: bool
    verification: str
    has_video: bool
    has_thumbnail: bool
    comments: list[NeighborComment]


@dataclass(frozen=True, slots=True)
class ClipShared(WireObject):
    """A clip was shared with the neighborhood group."""

    export_id: str
    event_id: str = field(metadata=_about("the Matrix event of the post"))
