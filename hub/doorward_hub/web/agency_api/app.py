"""The agency API's sub-application (mounted at `AGENCY_PREFIX`): staff tokens on every route
but the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from doorward_hub import __version__
from doorward_hub.web.agency_api import audit, evidence, requests
from doorward_hub.web.agency_api.keys import AGENCY_PREFIX, OFFICER, STAFF
from doorward_hub.web.api_v1.auth import bearer_token
from doorward_hub.web.errors import Handler, error_middleware, fail
from doorward_hub.web.openapi import openapi_document
from doorward_hub.web.operations import Reply, Routes, operation_of

MAX_BODY = 6 * 1024 * 1024
"""A request with a 4 MiB warrant document, base64-encoded."""
AGENCY_OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("agency_openapi", dict)

document = Routes(AGENCY_PREFIX)


@document.get(
    "/openapi.json",
    summary="This document",
    access="public",
    replies=(Reply(200, "the OpenAPI 3.1 document of the agency API", "application/json"),),
)
async def get_agency_openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of the agency API."""
    return web.json_response(request.config_dict[AGENCY_OPENAPI])


ROUTES: tuple[Routes, ...] = (document, requests.routes, evidence.routes, audit.routes)


@web.middleware
async def staff_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every operation but the public document needs an officer's token; so does learning that
    a path does not exist."""
    operation = operation_of(request)
    if operation is None or operation.access == "token":
        token = bearer_token(request, query=False)
        officer = request.config_dict[STAFF].verify(token) if token else None
        if officer is None:
            fail(401, "unauthorized", "an officer's token is required (Authorization: Bearer)")
        request[OFFICER] = officer
    return await handler(request)


def create_root_app() -> web.Application:
    """The agency service's whole web server: JSON errors, the agency API under its prefix.

    The caller sets `AGENCY_HUB`, `STAFF` and `AUDIT` before the server starts."""
    root = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    root[AGENCY_OPENAPI] = openapi_document(__version__, [op for routes in ROUTES for op in routes])
    api = web.Application(middlewares=[staff_middleware])
    for routes in ROUTES:
        routes.add_to(api)
    root.add_subapp(AGENCY_PREFIX, api)
    return root
