"""One `web.AppKey` per service the handlers use, so each handler takes only what it needs.

The keys are set on the root application; handlers of every sub-application read them with
`request.config_dict[KEY]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from doorward_hub.auth.pairing import Pairing
    from doorward_hub.auth.tokens import TokenRegistry
    from doorward_hub.devices.doorbells import DoorbellManager
    from doorward_hub.devices.snapshots import SnapshotStore
    from doorward_hub.events.bus import EventBus
    from doorward_hub.neighborhood.service import NeighborhoodService
    from doorward_hub.recording.library import ClipLibrary
    from doorward_hub.recording.recorder import Recorder
    from doorward_hub.storage.clips import ClipRepository
    from doorward_hub.storage.events import EventRepository
    from doorward_hub.storage.tokens import TokenRepository


@dataclass(frozen=True, slots=True)
class HubIdentity:
    """Who the hub is: what `/info`, the WebSocket hello and the mDNS record say."""

    hub_id: str
    name: str


IDENTITY: web.AppKey[HubIdentity] = web.AppKey("identity", HubIdentity)
DOORBELLS: web.AppKey[DoorbellManager] = web.AppKey("doorbells")
EVENT_BUS: web.AppKey[EventBus] = web.AppKey("event_bus")
EVENTS: web.AppKey[EventRepository] = web.AppKey("events")
SNAPSHOTS: web.AppKey[SnapshotStore] = web.AppKey("snapshots")
CLIPS: web.AppKey[ClipRepository] = web.AppKey("clips")
CLIP_LIBRARY: web.AppKey[ClipLibrary] = web.AppKey("clip_library")
RECORDER: web.AppKey[Recorder] = web.AppKey("recorder")
PAIRING: web.AppKey[Pairing] = web.AppKey("pairing")
TOKENS: web.AppKey[TokenRegistry] = web.AppKey("tokens")
TOKEN_RECORDS: web.AppKey[TokenRepository] = web.AppKey("token_records")
HTTP_SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("http_session", aiohttp.ClientSession)
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
"""The OpenAPI document, generated once when the application is made."""
NEIGHBORHOOD: web.AppKey[NeighborhoodService] = web.AppKey("neighborhood")
