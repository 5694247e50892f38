"""Doorward's Matrix event types and the shapes of their content (documented in docs/groups.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

GROUP: Final = "org.doorward.group"
"""Space state (state key ""): the group's name and policy; only group admins may set it."""
MEMBER: Final = "org.doorward.member"
"""Space state (state key = the hub's Matrix id): the hub's Ed25519 identity key."""
POST: Final = "org.doorward.post"
"""The block inside a neighbor post's `m.video` content: cell, times, signed manifest."""
AGENCY: Final = "org.doorward.agency"
TRANSPARENCY: Final = "org.doorward.transparency"

MEGOLM: Final = "m.megolm.v1.aes-sha2"
ADMIN_POWER: Final = 100
MODERATOR_POWER: Final = 50
ROOM_NAMES: Final = ("feed", "requests", "admins")
"""The group's rooms; households are invited to all but `admins`."""
MEMBER_ROOMS: Final = ("feed", "requests")


class InvalidContent(ValueError):
    """Event content that does not have the documented shape."""


@dataclass(frozen=True)
class GroupPolicy:
    """What police requests the group accepts and how long exports may be kept.

    Whole numbers only: Matrix events are canonical JSON, which has no floats.
    """

    max_request_area_m2: int = 1_000_000
    max_request_window_minutes: int = 12 * 60
    legal_bases: tuple[str, ...] = ("warrant", "exigent", "consent")
    max_export_retention_days: int = 30

    def to_content(self) -> dict[str, Any]:
        """The policy as it travels in `org.doorward.group`."""
        return {
            "max_request_area_m2": self.max_request_area_m2,
            "max_request_window_minutes": self.max_request_window_minutes,
            "legal_bases": list(self.legal_bases),
            "max_export_retention_days": self.max_export_retention_days,
        }

    @classmethod
    def from_content(cls, content: Any) -> GroupPolicy:
        """Parse the policy block; `InvalidContent` says what is wrong."""
        try:
            bases = content["legal_bases"]
            if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
                raise InvalidContent("legal_bases must be a list of strings")
            return cls(
                max_request_area_m2=_positive(content["max_request_area_m2"]),
                max_request_window_minutes=_positive(content["max_request_window_minutes"]),
                legal_bases=tuple(bases),
                max_export_retention_days=_positive(content["max_export_retention_days"]),
            )
        except (KeyError, TypeError) as err:
            raise InvalidContent(f"{GROUP} policy: missing or wrong {err}") from err


def _positive(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidContent(f"expected a positive whole number, got {value!r}")
    return value


def group_content(name: str, policy: GroupPolicy, rooms: dict[str, str]) -> dict[str, Any]:
    """The content of the space's `org.doorward.group` state event."""
    return {"name": name, "policy": policy.to_content(), "rooms": rooms, "version": 1}


@dataclass(frozen=True)
class MemberRecord:
    """A household hub's public record in the group."""

    user_id: str
    identity_key: str
    """The hub's Ed25519 public key (unpadded base64), which signs export manifests."""
    key_id: str
    """The signing key's id as `signedjson` names it, e.g. `ed25519:hub`."""
    hub_name: str

    def to_content(self) -> dict[str, Any]:
        """The record as `org.doorward.member` content."""
        return {
            "identity_key": self.identity_key,
            "key_id": self.key_id,
            "hub_name": self.hub_name,
            "version": 1,
        }

    @classmethod
    def from_event(cls, state_key: str, content: Any) -> MemberRecord:
        """Parse a member record; `InvalidContent` says what is wrong."""
        try:
            return cls(
                user_id=state_key,
                identity_key=str(content["identity_key"]),
                key_id=str(content["key_id"]),
                hub_name=str(content.get("hub_name", "")),
            )
        except (KeyError, TypeError) as err:
            raise InvalidContent(f"{MEMBER}: missing {err}") from err
