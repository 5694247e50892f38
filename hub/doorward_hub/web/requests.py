"""Reading request bodies: JSON (`application/json`, UTF-8) validated by the operation's schema,
or a 4xx that names the problem."""

from __future__ import annotations

import json
from typing import Any

import probatio as vol
from aiohttp import web

from doorward_hub.web.errors import ApiError
from doorward_hub.web.operations import operation_of


def _reasons(err: vol.MultipleInvalid) -> str:
    return "; ".join(f"{'.'.join(map(str, e.path)) or 'body'}: {e.msg}" for e in err.errors)


async def read_body(request: web.Request) -> dict[str, Any]:
    """The body of the routed operation, parsed and validated; 415 unless it is JSON in UTF-8,
    400 with the reason unless it matches the schema. An optional body left out is `{}` with
    the schema's defaults."""
    operation = operation_of(request)
    body = operation.body if operation else None
    assert body is not None, "the route declares no body"
    schema = body.schema
    if not request.body_exists and not body.required:
        document: Any = {}
    else:
        if request.content_type != "application/json":
            raise ApiError(415, "unsupported_media_type", "the body must be application/json")
        if (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
            raise ApiError(415, "unsupported_media_type", "JSON bodies must be UTF-8")
        raw = await request.read()
        try:
            document = json.loads(raw.decode())
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    try:
        result: dict[str, Any] = schema(document)
    except vol.MultipleInvalid as err:
        raise ApiError(400, "invalid_request", _reasons(err)) from None
    return result
