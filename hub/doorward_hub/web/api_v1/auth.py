"""Who may call the client API: a bearer token on every operation but the public ones; the token
may come in the query (`?token=`) only where the operation says so (WebSocket, video)."""

from __future__ import annotations

import re
from http import HTTPStatus

from aiohttp import web

from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.errors import Handler, fail
from doorward_hub.web.keys import TOKENS
from doorward_hub.web.operations import operation_of

TOKEN_ID: web.RequestKey[str] = web.RequestKey("token_id", str)
"""The id of the token the request was made with."""

_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")
"""What a token can look like (the hub gives out URL-safe ASCII); anything else is refused
before it is looked up."""


def bearer_token(request: web.Request, *, query: bool) -> str | None:
    """The client's token: `Authorization: Bearer`, or `?token=` when `query` is allowed."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else ""
    if not token and query:
        token = request.query.get("token", "")
    return token if _TOKEN.fullmatch(token) else None


async def _authenticate(request: web.Request, *, query: bool) -> str:
    token = bearer_token(request, query=query)
    token_id = await request.config_dict[TOKENS].verify(token) if token else None
    if token_id is None:
        fail(401, "unauthorized", "a valid token is required (Authorization: Bearer <token>)")
    return token_id


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every operation of the API needs a valid token, unless it is public. A request that
    matches no operation is left to `unmatched_middleware` (404 needs a token, 405 does not)."""
    operation = operation_of(request)
    if operation is not None and operation.access == "token":
        request[TOKEN_ID] = await _authenticate(request, query=operation.query_token)
    return await handler(request)


@web.middleware
async def unmatched_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For the root application: a path under `/api/v1` that matches no route is the API's too,
    so it needs a token before it learns 404. A 405 needs none: its `Allow` header only repeats
    what the public OpenAPI document says about that path."""
    unmatched = request.match_info.http_exception
    if (
        unmatched is not None
        and unmatched.status != HTTPStatus.METHOD_NOT_ALLOWED
        and request.path.startswith(API_PREFIX + "/")
    ):
        await _authenticate(request, query=False)
    return await handler(request)
