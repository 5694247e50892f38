"""What the space's state says about police requests: the policy and the admitted agencies.

State events are the one thing in a group the homeserver enforces (only admins may set these),
so every side reads its authority from here and never from encrypted content.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from nio.client.async_client import AsyncClient
from nio.responses import RoomGetStateResponse

from ..neighborhood.account import checked
from ..neighborhood.event_types import AGENCY, GROUP, GroupPolicy, InvalidContent
from .event_types import AgencyRecord, agency_from_state_key

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupRules:
    """The group's policy and its agencies, keyed by Matrix id, as the space's state holds them."""

    policy: GroupPolicy
    agencies: dict[str, AgencyRecord] = field(default_factory=dict)
    rooms: dict[str, str] = field(default_factory=dict)


async def read_group_rules(client: AsyncClient, space_id: str) -> GroupRules:
    """Read the policy and agency records from the space (a malformed record counts as absent)."""
    state = checked(await client.room_get_state(space_id), "reading the group's state")
    assert isinstance(state, RoomGetStateResponse)
    policy = GroupPolicy()
    rooms: dict[str, str] = {}
    agencies: dict[str, AgencyRecord] = {}
    for event in state.events:
        kind, key, content = event.get("type"), event.get("state_key"), event.get("content")
        try:
            if kind == GROUP and key == "" and isinstance(content, dict):
                policy = GroupPolicy.from_content(content.get("policy"))
                rooms = {str(k): str(v) for k, v in dict(content.get("rooms", {})).items()}
            elif kind == AGENCY and isinstance(key, str) and agency_from_state_key(key):
                user_id = str(agency_from_state_key(key))
                agencies[user_id] = AgencyRecord.from_event(user_id, content)
        except (InvalidContent, TypeError, ValueError) as err:
            _LOGGER.warning("ignoring a malformed %s state event (%s): %s", kind, key, err)
    return GroupRules(policy, agencies, rooms)


def sent_by_own_device(client: AsyncClient, sender: str, sender_key: str | None) -> bool:
    """True if the event was encrypted by a device the sender's account published.

    Megolm decryption alone says only which session encrypted an event; this checks that the
    session's Curve25519 key belongs to one of the sender's own devices (from `keys_query`)."""
    if not sender_key:
        return False
    devices = client.device_store.active_user_devices(sender)
    return any(device.curve25519 == sender_key for device in devices)
