"""The root web application: JSON errors for every audience, one sub-application per audience,
and the services its handlers use (one `AppKey` each, see `keys`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from doorward_hub import __version__
from doorward_hub.protocol import API_PREFIX, NOTIFY_PREFIX
from doorward_hub.web.api_v1 import app as api_v1_app
from doorward_hub.web.api_v1.auth import unmatched_middleware
from doorward_hub.web.device_notify import app as device_notify_app
from doorward_hub.web.errors import error_middleware
from doorward_hub.web.keys import (
    CLIP_LIBRARY,
    CLIPS,
    DOORBELLS,
    EVENT_BUS,
    EVENTS,
    HTTP_SESSION,
    IDENTITY,
    NEIGHBORHOOD,
    OPENAPI,
    PAIRING,
    RECORDER,
    SNAPSHOTS,
    TOKEN_RECORDS,
    TOKENS,
    HubIdentity,
)
from doorward_hub.web.openapi import openapi_document

if TYPE_CHECKING:
    import aiohttp

    from doorward_hub.auth.pairing import Pairing
    from doorward_hub.auth.tokens import TokenRegistry
    from doorward_hub.devices.doorbells import DoorbellManager
    from doorward_hub.devices.snapshots import SnapshotStore
    from doorward_hub.events.bus import EventBus
    from doorward_hub.neighborhood.service import NeighborhoodService
    from doorward_hub.recording.recorder import Recorder
    from doorward_hub.storage.repositories import Repositories

MAX_REQUEST_BODY = 64 * 1024


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a NUL in a header, a bad request line) as an
    error with a traceback, although it answers 400 and the fault is the client's: make it one
    warning line instead, so nobody on the LAN can fill the log with tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record of a client's malformed request; pass every other record."""
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= (error.code or 0) < 500:
            record.msg, record.args = "Refused a malformed request: %s", (error.message,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_MALFORMED_REQUESTS = MalformedRequestFilter()


def create_app(
    *,
    identity: HubIdentity,
    repositories: Repositories,
    doorbells: DoorbellManager,
    bus: EventBus,
    snapshots: SnapshotStore,
    recorder: Recorder,
    pairing: Pairing,
    tokens: TokenRegistry,
    session: aiohttp.ClientSession,
    neighborhood: NeighborhoodService,
) -> web.Application:
    """The hub's whole web server: `/api/v1` for clients, `/api/v1/notify` for devices."""
    server_log = logging.getLogger("aiohttp.server")
    if _MALFORMED_REQUESTS not in server_log.filters:
        server_log.addFilter(_MALFORMED_REQUESTS)
    app = web.Application(
        middlewares=[error_middleware, unmatched_middleware], client_max_size=MAX_REQUEST_BODY
    )
    app[IDENTITY] = identity
    app[DOORBELLS] = doorbells
    app[EVENT_BUS] = bus
    app[EVENTS] = repositories.events
    app[SNAPSHOTS] = snapshots
    app[CLIPS] = repositories.clips
    app[CLIP_LIBRARY] = recorder.library
    app[RECORDER] = recorder
    app[PAIRING] = pairing
    app[TOKENS] = tokens
    app[TOKEN_RECORDS] = repositories.tokens
    app[HTTP_SESSION] = session
    operations = [op for routes in (*api_v1_app.ROUTES, device_notify_app.routes) for op in routes]
    app[OPENAPI] = openapi_document(__version__, operations)
    app[NEIGHBORHOOD] = neighborhood
    # The more specific prefix first: the client API's sub-application would claim it otherwise.
    app.add_subapp(NOTIFY_PREFIX, device_notify_app.create_app())
    app.add_subapp(API_PREFIX, api_v1_app.create_app())
    return app
