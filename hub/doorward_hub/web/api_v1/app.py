"""The client API sub-application (mounted at `protocol.API_PREFIX`): token auth, every route."""

from __future__ import annotations

from aiohttp import web

from doorward_hub.web.api_v1 import (
    clients,
    clips,
    credentials,
    doorbells,
    events,
    neighborhood,
    websocket,
)
from doorward_hub.web.api_v1.auth import auth_middleware


def create_app() -> web.Application:
    """The sub-application; the services come from the root application."""
    app = web.Application(middlewares=[auth_middleware])
    for module in (clients, doorbells, credentials, events, clips, neighborhood, websocket):
        app.add_routes(module.routes)
    return app
