"""The hub's records: doorbells, events, clips, tokens (their JSON form is in `wire.objects`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class EventType(StrEnum):
    """What happened at a doorbell."""

    PRESS = "press"
    MOTION_START = "motion_start"
    MOTION_STOP = "motion_stop"


class DoorbellStatus(StrEnum):
    """Where the hub stands with a doorbell."""

    PENDING_APPROVAL = "pending_approval"
    PAIRING = "pairing"
    ONLINE = "online"
    OFFLINE = "offline"
    ERROR = "error"


def iso_time(timestamp: float) -> str:
    """Unix seconds as an ISO 8601 UTC string with milliseconds."""
    return (
        datetime.fromtimestamp(timestamp, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass(slots=True)
class Doorbell:
    """A doorbell the hub knows: what it announced, its credentials and its state."""

    id: str
    driver: str
    name: str
    model: str
    host: str
    port: int
    capabilities: frozenset[str]
    firmware: str | None = None
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    cursor: str | None = None
    privacy_mode: bool = False
    record_audio: bool = False
    retention_days: float | None = None
    approved: bool = True
    status: DoorbellStatus = DoorbellStatus.OFFLINE
    error: str | None = None
    last_seen: float | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A stored hub event; `seq` is its id and its place in the hub's order."""

    seq: int
    doorbell_id: str
    type: EventType
    time: float
    device_time: float | None
    presses: int = 1
    has_snapshot: bool = False
    button: str | None = None
    """Which button was pressed, on stations that say (DoorBird inputs `1`, `101`, `102`...)."""


class ClipTrigger(StrEnum):
    """What started a clip."""

    PRESS = "press"
    MOTION = "motion"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Clip:
    """A recorded clip: an MP4 file and its JPEG thumbnail in the clips folder.

    `start` and `end` are on the doorbell's clock (Unix seconds) when its stream says how its
    timestamps map to it, otherwise on the hub's clock.
    """

    id: int
    doorbell_id: str
    trigger: ClipTrigger
    trigger_seq: int | None
    trigger_time: float
    start: float
    end: float
    size: int
    sha256: str
    file_name: str
    has_audio: bool = False

    @property
    def thumbnail_name(self) -> str:
        """The thumbnail's file name, next to the clip."""
        return self.file_name.removesuffix(".mp4") + ".jpg"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A client token as listed by the API (the secret is never kept)."""

    id: str
    client_name: str
    created: float
    last_used: float | None
