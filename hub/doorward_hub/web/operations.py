"""The route registry: each route of the API is declared once, with its operation (summary,
parameters, request body, every answer it can give), and from that declaration the hub routes
the request, validates its parameters, checks who may call it and writes the OpenAPI document."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.errors import ApiError, Handler

if TYPE_CHECKING:
    import probatio as vol

    from doorward_hub.wire.objects import WireObject

type Access = Literal["token", "public", "device"]
"""Who may call: a client with a bearer token, anyone, or a device by the secret in its path."""

_BY_HANDLER: dict[Handler, Operation] = {}
"""Every routed handler's operation (what the auth middleware and `read_body` look up)."""

_DIGITS = re.compile(r"[0-9]{1,19}")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class Param[T]:
    """A path or query parameter: its OpenAPI schema and the parser that enforces it."""

    name: str
    location: Literal["path", "query"]
    schema: dict[str, Any]
    parse: Callable[[str], T]
    """Turns the raw text into the value; raises ValueError with the reason otherwise."""
    description: str = ""

    def get(self, request: web.Request) -> T | None:
        """The validated value (None for a query parameter the client left out)."""
        value: T | None = request[PARAMS].get(self.name)
        return value

    def value(self, request: web.Request, default: T) -> T:
        """The validated value, or `default` when the client left it out."""
        value = self.get(request)
        return default if value is None else value

    def read(self, request: web.Request) -> T | None:
        """Parse the raw parameter; 400 naming it when it breaks its schema."""
        source = request.match_info if self.location == "path" else request.query
        raw = source.get(self.name)
        if raw is None:
            return None
        try:
            return self.parse(raw)
        except ValueError as err:
            raise ApiError(400, "invalid_request", f"{self.name}: {err}") from None

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        result: dict[str, Any] = {"name": self.name, "in": self.location, "schema": self.schema}
        if self.location == "path":
            result["required"] = True
        if self.description:
            result["description"] = self.description
        return result


def integer(
    name: str,
    location: Literal["path", "query"],
    low: int,
    high: int,
    description: str = "",
) -> Param[int]:
    """An integer in [low, high], written in ASCII digits."""

    def parse(raw: str) -> int:
        if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return int(raw)

    schema = {"type": "integer", "minimum": low, "maximum": high}
    return Param(name, location, schema, parse, description)


def number(name: str, description: str = "") -> Param[float]:
    """A finite number in query (JSON number syntax, e.g. Unix seconds `1763931845.5`)."""

    def parse(raw: str) -> float:
        value = float(raw) if _JSON_NUMBER.fullmatch(raw) else math.nan
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    return Param(name, "query", {"type": "number"}, parse, description)


def string(name: str, location: Literal["path", "query"], description: str = "") -> Param[str]:
    """Any text (ids of doorbells and tokens: whatever the hub gave out)."""

    def parse(raw: str) -> str:
        try:
            raw.encode()
        except UnicodeEncodeError:
            raise ValueError("must be valid UTF-8") from None
        return raw

    return Param(name, location, {"type": "string"}, parse, description)


def choice[E: StrEnum](name: str, enum: type[E], description: str = "") -> Param[E]:
    """One of an enum's values, in query."""

    def parse(raw: str) -> E:
        if raw not in enum:
            raise ValueError(f"must be one of {', '.join(e.value for e in enum)}")
        return enum(raw)

    schema = {"type": "string", "enum": [e.value for e in enum]}
    return Param(name, "query", schema, parse, description)


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer an operation can give: a wire object as JSON, raw bytes of a media type, or
    nothing. Every error (4xx) is an `Error` object."""

    status: int
    description: str
    body: type[WireObject] | str | tuple[str, ...] | None = None
    headers: tuple[str, ...] = ()
    """Headers the answer carries, documented as strings."""


@dataclass(frozen=True, slots=True)
class Body:
    """A JSON request body: the probatio schema that validates it."""

    schema: vol.Schema
    description: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class Operation:
    """One route and everything the document says about it."""

    method: str
    path: str
    """The route's path in its sub-application."""
    document_path: str
    """Its path in the OpenAPI document (relative to the API's prefix)."""
    name: str
    summary: str
    access: Access
    params: tuple[Param[Any], ...]
    body: Body | None
    replies: tuple[Reply, ...]
    query_token: bool
    description: str = ""


PARAMS: web.RequestKey[dict[str, Any]] = web.RequestKey("params", dict)
"""The request's validated parameters, by name."""

_UNAUTHORIZED = Reply(401, "missing, unknown or revoked token")
_BAD_REQUEST = Reply(400, "a parameter or the body breaks its schema (the message names it)")
_TOO_LARGE = Reply(413, "the body is larger than the hub accepts")
_NOT_JSON = Reply(415, "the body is not `application/json` (UTF-8)")


@dataclass
class Routes:
    """The routes of one sub-application, declared with their operations."""

    prefix: str = ""
    """Where the sub-application is mounted, e.g. `/api/v1/notify`."""
    operations: list[Operation] = field(default_factory=list)
    _handlers: dict[str, Handler] = field(default_factory=dict)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        replies: tuple[Reply, ...],
        params: tuple[Param[Any], ...] = (),
        body: Body | None = None,
        access: Access = "token",
        query_token: bool = False,
        description: str = "",
    ) -> Callable[[Handler], Handler]:
        """Declare a route; the handler runs with its parameters validated (`Param.get`)."""

        def register(handler: Handler) -> Handler:
            standard: list[Reply] = []
            if params or body:
                standard.append(_BAD_REQUEST)
            if access == "token":
                standard.append(_UNAUTHORIZED)
            if body:
                standard += [_TOO_LARGE, _NOT_JSON]
            declared = {reply.status for reply in replies}
            operation = Operation(
                method=method,
                path=path,
                document_path=self.prefix.removeprefix(API_PREFIX) + path,
                name=handler.__name__,
                summary=summary,
                access=access,
                params=params,
                body=body,
                replies=(*replies, *(r for r in standard if r.status not in declared)),
                query_token=query_token,
                description=description or (handler.__doc__ or "").strip(),
            )
            self.operations.append(operation)
            validated = _validating(operation, handler)
            self._handlers[operation.name] = validated
            _BY_HANDLER[validated] = operation
            return handler

        return register

    def get(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a GET route (no HEAD: only what is documented is served)."""
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a POST route."""
        return self.route("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a PUT route."""
        return self.route("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a PATCH route."""
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        """Declare a DELETE route."""
        return self.route("DELETE", path, **kwargs)

    def __iter__(self) -> Iterator[Operation]:
        """The operations, in declaration order."""
        return iter(self.operations)

    def add_to(self, app: web.Application) -> None:
        """Route every declared operation in `app`."""
        for operation in self.operations:
            app.router.add_route(
                operation.method,
                operation.path,
                self._handlers[operation.name],
                name=operation.name,
            )


def _validating(operation: Operation, handler: Handler) -> Handler:
    async def validated(request: web.Request) -> web.StreamResponse:
        request[PARAMS] = {p.name: p.read(request) for p in operation.params}
        return await handler(request)

    validated.__name__ = handler.__name__
    validated.__doc__ = handler.__doc__
    return validated


def operation_of(request: web.Request) -> Operation | None:
    """The operation a request is routed to (None when no route matched)."""
    return _BY_HANDLER.get(request.match_info.handler)
