"""Who may call the client API: a bearer token on every route but the ones marked `public`."""

from __future__ import annotations

from aiohttp import web

from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.errors import Handler, fail
from doorward_hub.web.keys import TOKENS

TOKEN_ID: web.RequestKey[str] = web.RequestKey("token_id", str)
"""The id of the token the request was made with."""

_PUBLIC: set[Handler] = set()


def public(handler: Handler) -> Handler:
    """Mark a handler as served without a token (the one place a route is declared public)."""
    _PUBLIC.add(handler)
    return handler


def bearer_token(request: web.Request) -> str | None:
    """The client's token: `Authorization: Bearer`, or `?token=` for WebSocket/video clients."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token") or None


async def _authenticate(request: web.Request) -> str:
    token = bearer_token(request)
    token_id = await request.config_dict[TOKENS].verify(token) if token else None
    if token_id is None:
        fail(401, "unauthorized", "a valid token is required (Authorization: Bearer <token>)")
    return token_id


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route of the API needs a valid token, unless its handler is `public`."""
    if request.match_info.handler not in _PUBLIC:
        request[TOKEN_ID] = await _authenticate(request)
    return await handler(request)


@web.middleware
async def unmatched_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For the root application: a path under `/api/v1` that matches no route (or not with this
    method) is the API's too, so it needs a token before it learns 404 or 405."""
    unmatched = request.match_info.http_exception is not None
    if unmatched and request.path.startswith(API_PREFIX + "/"):
        await _authenticate(request)
    return await handler(request)
