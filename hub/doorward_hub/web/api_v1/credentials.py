"""Credentials the owner enters for doorbells that cannot pair by themselves (DoorBird)."""

from __future__ import annotations

from aiohttp import web

from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.api_v1.doorbells import DOORBELL_ID, UNKNOWN
from doorward_hub.web.keys import DOORBELLS
from doorward_hub.web.operations import Body, Reply, Routes
from doorward_hub.web.requests import read_body
from doorward_hub.wire import bodies
from doorward_hub.wire.objects import Doorbell

routes = Routes(API_PREFIX)


@routes.put(
    "/doorbells/{doorbell_id}/credentials",
    summary="Enter the device credentials of a doorbell that cannot pair by itself",
    description="DoorBird: a device user with API permission. The doorbell reconnects with "
    "them; its `status` then tells whether the device accepts them.",
    params=(DOORBELL_ID,),
    body=Body(bodies.CREDENTIALS, "the credentials"),
    replies=(
        Reply(202, "stored; the doorbell reconnects", Doorbell),
        UNKNOWN,
        Reply(409, "this doorbell pairs by itself (`doorbell_unavailable`)"),
    ),
)
async def put_credentials(request: web.Request) -> web.Response:
    """Store the device credentials the owner entered; the doorbell reconnects with them."""
    manager = request.config_dict[DOORBELLS]
    doorbell_id = request.match_info["doorbell_id"]
    manager.get(doorbell_id)  # 404 before 400
    body = await read_body(request)
    doorbell = await manager.set_credentials(doorbell_id, body)
    return web.json_response(Doorbell.of(doorbell).to_dict(), status=202)
