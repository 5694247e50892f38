"""Errors as JSON: `ApiError` for handlers, and the middleware that answers every failure with
`{"error", "message"}`, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

from aiohttp import web

from doorward_hub.devices.doorbells import DoorbellUnavailable, UnknownDoorbell
from doorward_hub.wire.objects import Error

_LOGGER = logging.getLogger(__name__)

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """Raised by handlers; turned into a JSON error answer by `error_middleware`."""

    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        """Status code, machine-readable code, reason for a person, extra answer headers."""
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers or {}


def fail(status: int, error: str, message: str) -> NoReturn:
    """Answer the request with this error."""
    raise ApiError(status, error, message)


def json_error(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """An error answer in the API's one format."""
    return web.json_response(Error(error, message).to_dict(), status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes `{"error", "message"}` JSON; nothing escapes as a traceback."""
    try:
        return await handler(request)
    except ApiError as err:
        return json_error(err.status, err.error, err.message, err.headers)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            err.status, "http_error"
        )
        # A 405 keeps its `Allow` header: the methods this path does serve.
        allow = {"Allow": err.headers["Allow"]} if "Allow" in err.headers else None
        return json_error(err.status, code, err.reason, allow)
    except UnknownDoorbell as err:
        return json_error(404, "unknown_doorbell", f"no doorbell with id {err.args[0]!r}")
    except DoorbellUnavailable as err:
        return json_error(409, "doorbell_unavailable", str(err))
    except Exception:
        _LOGGER.exception("Request failed", extra={"path": request.path})
        return json_error(500, "internal_error", "the hub failed to answer; see its log")
