"""The warrant document of a police request shown to this household, for the person deciding
(`GET /police/requests/{id}/warrant`): downloaded from the homeserver and decrypted on demand,
logged in the household's audit log."""

from __future__ import annotations

import re

from aiohttp import web

from doorward_hub.neighborhood.service import NeighborhoodError
from doorward_hub.police.pending import AnswerError
from doorward_hub.police.warrant_documents import SIGNATURES
from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.api_v1.auth import TOKEN_ID
from doorward_hub.web.errors import ApiError
from doorward_hub.web.keys import NEIGHBORHOOD
from doorward_hub.web.operations import Reply, Routes, string

REQUEST_ID = string("request_id", "path", "the request's id, as the requests route lists it")
_STATUS = {
    "not_found": 404,
    "no_warrant": 404,
    "warrant_unavailable": 502,
    "not_joined": 409,
    "removed": 409,
    "not_ready": 503,
}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")

routes = Routes(API_PREFIX)


@routes.get(
    "/police/requests/{request_id}/warrant",
    summary="The request's warrant document (PDF, PNG or JPEG), decrypted for reading",
    params=(REQUEST_ID,),
    replies=(
        Reply(200, "the document", tuple(SIGNATURES), ("Content-Disposition",)),
        Reply(404, "no such request (`not_found`) or it has no warrant (`no_warrant`)"),
        Reply(409, "not in a group (`not_joined`) or removed from it (`removed`)"),
        Reply(502, "the document cannot be downloaded or decrypted (`warrant_unavailable`)"),
        Reply(503, "the hub has not reached the group yet (`not_ready`)"),
    ),
)
async def police_request_warrant(request: web.Request) -> web.Response:
    """The warrant attached to the request, as the agency attached it (hash checked)."""
    try:
        household = request.config_dict[NEIGHBORHOOD].police
        found = await household.warrant(
            REQUEST_ID.value(request, ""), f"client:{request[TOKEN_ID]}"
        )
    except (AnswerError, NeighborhoodError) as err:
        raise ApiError(_STATUS.get(err.code, 502), err.code, str(err)) from err
    filename = _UNSAFE_NAME.sub("_", found.filename)
    return web.Response(
        body=found.data,
        content_type=found.mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
