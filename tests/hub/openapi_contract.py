"""Checks real answers of the hub against its generated OpenAPI document (openapi-core)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from yarl import URL

from doorward_hub import __version__
from doorward_hub.web.api_v1.app import ROUTES
from doorward_hub.web.device_notify.app import routes as notify_routes
from doorward_hub.web.openapi import openapi_document


def generated() -> dict[str, Any]:
    """The document the hub serves, made from its route registry."""
    operations = [op for routes in (*ROUTES, notify_routes) for op in routes]
    return openapi_document(__version__, operations)


class DocumentCheck:
    """Validates answers against the document and remembers which (method, path, status) it saw.

    openapi-core's `MockRequest`/`MockResponse` only carry the real request and answer to it.
    """

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        """Check against `document` (default: the generated one)."""
        self.document = document or generated()
        self._openapi = OpenAPI.from_dict(self.document)
        self.seen: set[tuple[str, str, int]] = set()

    def template(self, method: str, path: str) -> str:
        """The documented path (relative to `/api/v1`) that a concrete path falls under."""
        parts = path.removeprefix("/api/v1").strip("/").split("/")
        for template, item in self.document["paths"].items():
            pattern = template.strip("/").split("/")
            if method.lower() not in item or len(pattern) != len(parts):
                continue
            if all(p == q or p.startswith("{") for p, q in zip(pattern, parts, strict=True)):
                return template
        raise AssertionError(f"{method} {path} is not in the document")

    def check(
        self,
        method: str,
        url: URL,
        request_headers: Mapping[str, str],
        response: aiohttp.ClientResponse,
        data: bytes,
    ) -> None:
        """Raise unless the answer is what the document says for this request."""
        request = MockRequest(
            f"{url.scheme}://{url.host}:{url.port}",
            method,
            url.path,
            args=dict(url.query),
            headers=dict(request_headers),
        )
        answer = MockResponse(
            data,
            status_code=response.status,
            headers=dict(response.headers),
            content_type=response.content_type,
        )
        self._openapi.validate_response(request, answer)
        self.seen.add((method, self.template(method, url.path), response.status))
