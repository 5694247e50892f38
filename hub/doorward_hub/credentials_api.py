"""Routes for doorbells that cannot pair by themselves (DoorBird): the credentials the owner
enters, and the notification URL such devices call to push their events."""

from __future__ import annotations

import logging

import voluptuous as vol
from aiohttp import web

from .api_common import API, HUB_KEY, ApiError, read_json
from .drivers.base import NOTIFY_PATH

_LOGGER = logging.getLogger(__name__)

NOTIFY_ROUTE = NOTIFY_PATH + "/{driver}/{doorbell_id}/{secret}/{event}"
PUBLIC_ROUTES = frozenset({NOTIFY_ROUTE})
"""Route templates served without a token (the notification URL carries its own secret)."""

CREDENTIALS_SCHEMA = vol.Schema(
    {
        vol.Required("username"): vol.All(
            str, vol.Length(1, 128), vol.Match(r"\A[^:]*\Z", msg="must not contain ':'")
        ),
        vol.Required("password"): vol.All(str, vol.Length(0, 256)),
    }
)

routes = web.RouteTableDef()


@routes.put(API + "/doorbells/{doorbell_id}/credentials")
async def put_credentials(request: web.Request) -> web.Response:
    """Store the device credentials the owner entered; the doorbell reconnects with them."""
    manager = request.app[HUB_KEY].doorbells
    doorbell_id = request.match_info["doorbell_id"]
    manager.get(doorbell_id)  # 404 before 400
    body = await read_json(request, CREDENTIALS_SCHEMA)
    doorbell = await manager.set_credentials(doorbell_id, body)
    return web.json_response(doorbell.to_json(), status=202)


@routes.get(NOTIFY_ROUTE)
async def notify(request: web.Request) -> web.Response:
    """A device pushes an event (public: the secret in the path authenticates the device)."""
    info = request.match_info
    manager = request.app[HUB_KEY].doorbells
    if not await manager.notify(info["driver"], info["doorbell_id"], info["secret"], info["event"]):
        _LOGGER.warning(
            "Rejected a notification with a wrong secret or event",
            extra={"doorbell_id": info["doorbell_id"], "remote": request.remote},
        )
        raise ApiError(401, "unauthorized", "unknown notification URL")
    return web.Response(status=204)
