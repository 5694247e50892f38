"""Reading request bodies and query parameters: validated, or a 400 that names the problem."""

from __future__ import annotations

import json
from typing import Any

import voluptuous as vol
from aiohttp import web

from doorward_hub.web.errors import ApiError


async def read_json(request: web.Request, schema: vol.Schema) -> dict[str, Any]:
    """The request body, parsed and validated; 400 with the reason otherwise."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    try:
        result: dict[str, Any] = schema(body)
    except vol.MultipleInvalid as err:
        reasons = "; ".join(f"{'.'.join(map(str, e.path)) or 'body'}: {e.msg}" for e in err.errors)
        raise ApiError(400, "invalid_request", reasons) from None
    return result


def int_query(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; 400 naming it otherwise."""
    raw = request.query.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{key}: must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_request", f"{key}: must be between {low} and {high}")
    return value


def number(value: Any) -> float:
    """A voluptuous validator: a JSON number (not a boolean), as float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    return float(value)
