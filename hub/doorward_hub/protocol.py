"""The hub's protocol constants, defined once: what clients (Home Assistant) and the LAN see.

Doorbell statuses, event types and clip triggers are the enums of the wire models
(`doorward_hub.models`: `DoorbellStatus`, `EventType`, `ClipTrigger`); capabilities are here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DEFAULT_PORT: Final = 8470
"""The hub API's TCP port unless configured otherwise."""

API_VERSION: Final = 1
API_PREFIX: Final = "/api/v1"
"""Where the client API (REST and WebSocket) is served."""

NOTIFY_PREFIX: Final = f"{API_PREFIX}/notify"
"""Where doorbells that cannot keep a connection (DoorBird) push their events."""

CLOSE_TOKEN_REVOKED: Final = 4001
"""WebSocket close code: the client's token was revoked (the client must pair again)."""

HUB_SERVICE_TYPE: Final = "_doorward._tcp.local."
"""The hub's mDNS service type (Home Assistant discovers the hub with it)."""

TXT_HUB_ID: Final = "hub_id"
TXT_VERSION: Final = "version"
TXT_API: Final = "api"
TXT_NAME: Final = "name"
"""Keys of the hub's mDNS TXT record."""


class Capability(StrEnum):
    """What a doorbell can do, as the hub reports it per doorbell (`capabilities`)."""

    PRESS = "press"
    MOTION = "motion"
    SNAPSHOT = "snapshot"
    VIDEO = "video"
    AUDIO = "audio"
