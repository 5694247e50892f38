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
from doorward_hub.web.operations import Routes

ROUTES: tuple[Routes, ...] = tuple(
    module.routes
    for module in (clients, doorbells, credentials, events, clips, neighborhood, websocket)
)
"""Every route of the client API, module by module."""


def create_app() -> web.Application:
    """The sub-application; the services come from the root application."""
    app = web.Application(middlewares=[auth_middleware])
    for routes in ROUTES:
        routes.add_to(app)
    return app
