"""The hub's records: doorbells, events, tokens — and their JSON form in the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


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
    approved: bool = True
    status: DoorbellStatus = DoorbellStatus.OFFLINE
    error: str | None = None
    last_seen: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The doorbell object of the API (no credentials)."""
        return {
            "id": self.id,
            "name": self.name,
            "model": self.model,
            "driver": self.driver,
            "host": self.host,
            "port": self.port,
            "capabilities": sorted(self.capabilities),
            "status": self.status.value,
            "online": self.status is DoorbellStatus.ONLINE,
            "error": self.error,
            "last_seen": iso_time(self.last_seen) if self.last_seen else None,
            "privacy_mode": self.privacy_mode,
            "firmware": self.firmware,
        }


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

    def to_json(self) -> dict[str, Any]:
        """The event object of the API."""
        return {
            "seq": self.seq,
            "doorbell_id": self.doorbell_id,
            "type": self.type.value,
            "time": iso_time(self.time),
            "device_time": self.device_time,
            "presses": self.presses,
            "has_snapshot": self.has_snapshot,
        }


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A client token as listed by the API (the secret is never kept)."""

    id: str
    client_name: str
    created: float
    last_used: float | None

    def to_json(self) -> dict[str, Any]:
        """The token object of the API."""
        return {
            "id": self.id,
            "client_name": self.client_name,
            "created": iso_time(self.created),
            "last_used": iso_time(self.last_used) if self.last_used else None,
        }
