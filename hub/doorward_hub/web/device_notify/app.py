"""The device notification sub-application (mounted at `protocol.NOTIFY_PREFIX`)."""

from __future__ import annotations

import logging

from aiohttp import web

from doorward_hub.web.errors import fail
from doorward_hub.web.keys import DOORBELLS

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.get("/{driver}/{doorbell_id}/{secret}/{event}")
async def notify(request: web.Request) -> web.Response:
    """A device pushes an event; the secret in the path authenticates the device."""
    info = request.match_info
    manager = request.config_dict[DOORBELLS]
    if not await manager.notify(info["driver"], info["doorbell_id"], info["secret"], info["event"]):
        _LOGGER.warning(
            "Rejected a notification with a wrong secret or event",
            extra={"doorbell_id": info["doorbell_id"], "remote": request.remote},
        )
        fail(401, "unauthorized", "unknown notification URL")
    return web.Response(status=204)


def create_app() -> web.Application:
    """The sub-application; the services come from the root application."""
    app = web.Application()
    app.add_routes(routes)
    return app
