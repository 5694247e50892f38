"""Who may call the client API: a bearer token on every route but the ones marked `public`."""

from __future__ import annotations

from aiohttp import web

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


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route of the API needs a valid token, unless its handler is `public`."""
    if request.match_info.handler in _PUBLIC:
        return await handler(request)
    token = bearer_token(request)
    token_id = await request.config_dict[TOKENS].verify(token) if token else None
    if token_id is None:
        fail(401, "unauthorized", "a valid token is required (Authorization: Bearer <token>)")
    request[TOKEN_ID] = token_id
    return await handler(request)
