"""The household's audit log through the API: requests seen, answers, shares, group changes."""

from __future__ import annotations

from aiohttp import web

from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.audit_page import LIMIT, REPLIES, audit_page
from doorward_hub.web.operations import Routes

routes = Routes(API_PREFIX)


@routes.get(
    "/audit",
    summary="The newest entries of the hub's audit log, newest first",
    params=(LIMIT,),
    replies=REPLIES,
)
async def audit_entries(request: web.Request) -> web.Response:
    """The newest `limit` entries, newest first, after checking the whole chain."""
    return await audit_page(request)
