"""Hub identity and the clients' side of access: info, the OpenAPI document, pairing, tokens."""

from __future__ import annotations

import logging
import math

from aiohttp import web

from doorward_hub import __version__
from doorward_hub.auth.guesses import TooManyGuesses
from doorward_hub.protocol import API_PREFIX, API_VERSION, CLOSE_TOKEN_REVOKED
from doorward_hub.web.errors import ApiError, fail
from doorward_hub.web.keys import EVENT_BUS, IDENTITY, OPENAPI, PAIRING, TOKEN_RECORDS, TOKENS
from doorward_hub.web.operations import Body, Reply, Routes, string
from doorward_hub.web.requests import read_body
from doorward_hub.wire import bodies
from doorward_hub.wire.objects import HubInfo, PairingResult, Token, TokenList

_LOGGER = logging.getLogger(__name__)

TOKEN_ID = string("token_id", "path", "the token's id (`token_id` at pairing, `id` in the list)")

routes = Routes(API_PREFIX)


@routes.get(
    "/info",
    summary="Hub identity",
    access="public",
    replies=(Reply(200, "the hub", HubInfo),),
)
async def get_info(request: web.Request) -> web.Response:
    """Hub identity (public: the same facts the mDNS record carries)."""
    identity = request.config_dict[IDENTITY]
    info = HubInfo(identity.hub_id, identity.name, __version__, API_VERSION)
    return web.json_response(info.to_dict())


@routes.get(
    "/openapi.json",
    summary="This document",
    access="public",
    replies=(Reply(200, "the OpenAPI 3.1 document of this API", "application/json"),),
)
async def get_openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API, generated from its routes and wire shapes."""
    return web.json_response(request.config_dict[OPENAPI])


@routes.post(
    "/pair",
    summary="Exchange a one-time pairing code for a token",
    access="public",
    body=Body(bodies.PAIR, "the code the hub printed"),
    replies=(
        Reply(200, "the new token (shown once)", PairingResult),
        Reply(401, "wrong, used or expired code (`invalid_code`)"),
        Reply(
            429, "this source guessed wrong too often (`too_many_attempts`)", None, ("Retry-After",)
        ),
    ),
)
async def pair(request: web.Request) -> web.Response:
    """Exchange a one-time pairing code for a token."""
    body = await read_body(request)  # a bad body costs no code (400 first)
    try:
        issued = await request.config_dict[PAIRING].redeem(
            body["code"], body["client_name"], request.remote or "unknown"
        )
    except TooManyGuesses as err:
        raise ApiError(
            429, "too_many_attempts", str(err), {"Retry-After": str(math.ceil(err.retry_after))}
        ) from None
    if issued is None:
        fail(401, "invalid_code", "the pairing code is wrong, used or expired")
    request.config_dict[TOKENS].add(issued)
    hub_id = request.config_dict[IDENTITY].hub_id
    return web.json_response(PairingResult(issued.token, issued.token_id, hub_id).to_dict())


@routes.get(
    "/tokens",
    summary="List client tokens (never the secrets)",
    replies=(Reply(200, "the tokens", TokenList),),
)
async def list_tokens(request: web.Request) -> web.Response:
    """Every valid client token (never the secrets)."""
    tokens = await request.config_dict[TOKEN_RECORDS].list_tokens()
    return web.json_response(TokenList([Token.of(t) for t in tokens]).to_dict())


@routes.delete(
    "/tokens/{token_id}",
    summary="Revoke a token; its WebSockets close with code 4001",
    params=(TOKEN_ID,),
    replies=(Reply(204, "revoked"), Reply(404, "unknown token (`unknown_token`)")),
)
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token and close the WebSockets that use it."""
    token_id = request.match_info["token_id"]
    if not await request.config_dict[TOKENS].revoke(token_id):
        fail(404, "unknown_token", f"no token with id {token_id!r}")
    request.config_dict[EVENT_BUS].close_token(token_id, CLOSE_TOKEN_REVOKED, "token revoked")
    _LOGGER.info("Revoked a token", extra={"token_id": token_id})
    return web.Response(status=204)
