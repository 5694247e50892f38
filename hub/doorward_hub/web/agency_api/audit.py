"""The agency's audit log for its officers: requests sent and taken down, evidence received,
viewed, downloaded and deleted, each with the officer who did it."""

from __future__ import annotations

from aiohttp import web

from doorward_hub.web.agency_api.keys import AGENCY_PREFIX
from doorward_hub.web.audit_page import LIMIT, REPLIES, audit_page
from doorward_hub.web.operations import Routes

routes = Routes(AGENCY_PREFIX)


@routes.get(
    "/audit",
    summary="The newest entries of the agency's audit log, newest first",
    params=(LIMIT,),
    replies=REPLIES,
)
async def agency_audit(request: web.Request) -> web.Response:
    """The newest `limit` entries, newest first, after checking the whole chain."""
    return await audit_page(request)
