"""Credentials the owner enters for doorbells that cannot pair by themselves (DoorBird)."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from doorward_hub.web.keys import DOORBELLS
from doorward_hub.web.requests import read_json

CREDENTIALS_SCHEMA = vol.Schema(
    {
        vol.Required("username"): vol.All(
            str, vol.Length(1, 128), vol.Match(r"\A[^:]*\Z", msg="must not contain ':'")
        ),
        vol.Required("password"): vol.All(str, vol.Length(0, 256)),
    }
)

routes = web.RouteTableDef()


@routes.put("/doorbells/{doorbell_id}/credentials")
async def put_credentials(request: web.Request) -> web.Response:
    """Store the device credentials the owner entered; the doorbell reconnects with them."""
    manager = request.config_dict[DOORBELLS]
    doorbell_id = request.match_info["doorbell_id"]
    manager.get(doorbell_id)  # 404 before 400
    body = await read_json(request, CREDENTIALS_SCHEMA)
    doorbell = await manager.set_credentials(doorbell_id, body)
    return web.json_response(doorbell.to_json(), status=202)
