"""Hub identity and the clients' side of access: info, the OpenAPI document, pairing, tokens."""

from __future__ import annotations

import logging
import math
import unicodedata

import voluptuous as vol
from aiohttp import web

from doorward_hub import __version__
from doorward_hub.auth.guesses import TooManyGuesses
from doorward_hub.protocol import API_VERSION, CLOSE_TOKEN_REVOKED
from doorward_hub.web.api_v1.auth import public
from doorward_hub.web.api_v1.openapi import openapi_document
from doorward_hub.web.errors import ApiError, fail
from doorward_hub.web.keys import EVENT_BUS, IDENTITY, PAIRING, TOKEN_RECORDS, TOKENS
from doorward_hub.web.requests import read_json

_LOGGER = logging.getLogger(__name__)


def display_text(value: str) -> str:
    """A voluptuous validator: text a person can read (no control characters, no lone
    surrogates, not blank), so it can be stored, logged and shown as given."""
    if not value.strip():
        raise vol.Invalid("must not be blank")
    if any(unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"} for char in value):
        raise vol.Invalid("must be printable text (no control characters)")
    return value


PAIR_SCHEMA = vol.Schema(
    {
        vol.Required("code"): vol.All(str, vol.Length(1, 100), display_text),
        vol.Optional("client_name", default="client"): vol.All(
            str, vol.Length(1, 100), display_text
        ),
    }
)

routes = web.RouteTableDef()


@routes.get("/info")
@public
async def get_info(request: web.Request) -> web.Response:
    """Hub identity (public: the same facts the mDNS record carries)."""
    identity = request.config_dict[IDENTITY]
    return web.json_response(
        {
            "hub_id": identity.hub_id,
            "name": identity.name,
            "version": __version__,
            "api_version": API_VERSION,
        }
    )


@routes.get("/openapi.json")
@public
async def get_openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this API."""
    return web.json_response(openapi_document(__version__))


@routes.post("/pair")
@public
async def pair(request: web.Request) -> web.Response:
    """Exchange a one-time pairing code for a token."""
    body = await read_json(request, PAIR_SCHEMA)  # a bad body costs no code (400 first)
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
    return web.json_response({"token": issued.token, "token_id": issued.token_id, "hub_id": hub_id})


@routes.get("/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    """Every valid client token (never the secrets)."""
    tokens = await request.config_dict[TOKEN_RECORDS].list_tokens()
    return web.json_response({"tokens": [t.to_json() for t in tokens]})


@routes.delete("/tokens/{token_id}")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token and close the WebSockets that use it."""
    token_id = request.match_info["token_id"]
    if not await request.config_dict[TOKENS].revoke(token_id):
        fail(404, "unknown_token", f"no token with id {token_id!r}")
    request.config_dict[EVENT_BUS].close_token(token_id, CLOSE_TOKEN_REVOKED, "token revoked")
    _LOGGER.info("Revoked a token", extra={"token_id": token_id})
    return web.Response(status=204)
