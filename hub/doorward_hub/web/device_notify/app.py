"""The device notification sub-application (mounted at `protocol.NOTIFY_PREFIX`)."""

from __future__ import annotations

import logging

from aiohttp import web

from doorward_hub.devices.doorbells import UnknownDoorbell
from doorward_hub.protocol import NOTIFY_PREFIX
from doorward_hub.web.errors import fail
from doorward_hub.web.keys import DOORBELLS
from doorward_hub.web.operations import Reply, Routes, string

_LOGGER = logging.getLogger(__name__)

routes = Routes(prefix=NOTIFY_PREFIX)


@routes.get(
    "/{driver}/{doorbell_id}/{secret}/{event}",
    summary="A device pushes an event (DoorBird HTTP favorites)",
    description="No token: the per-doorbell secret in the path authenticates the device. A wrong "
    "secret, event, driver or doorbell all get the same 401, so the route does not tell which "
    "doorbells exist.",
    access="device",
    params=(
        string("driver", "path", "the doorbell's driver, e.g. `doorbird`"),
        string("doorbell_id", "path", "the doorbell's id"),
        string("secret", "path", "the doorbell's notification secret"),
        string("event", "path", "what happened: `press` or `motion`"),
    ),
    replies=(
        Reply(204, "recorded"),
        Reply(401, "not a notification URL the hub gave out (`unauthorized`)"),
    ),
)
async def notify(request: web.Request) -> web.Response:
    """A device pushes an event; the secret in the path authenticates the device."""
    info = request.match_info
    manager = request.config_dict[DOORBELLS]
    try:
        genuine = await manager.notify(
            info["driver"], info["doorbell_id"], info["secret"], info["event"]
        )
    except UnknownDoorbell:
        genuine = False
    if not genuine:
        _LOGGER.warning(
            "Rejected a notification with a wrong secret or event",
            extra={"doorbell_id": info["doorbell_id"], "remote": request.remote},
        )
        fail(401, "unauthorized", "unknown notification URL")
    return web.Response(status=204)


def create_app() -> web.Application:
    """The sub-application; the services come from the root application."""
    app = web.Application()
    routes.add_to(app)
    return app
