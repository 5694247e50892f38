"""What the API's request handlers share: the app key of the hub, the token key, `ApiError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .hub import Hub

API = "/api/v1"
HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")
TOKEN_ID_KEY = "doorward_token_id"  # noqa: S105 - a request key, not a secret


class ApiError(Exception):
    """Raised by handlers; turned into a JSON error answer by the error middleware."""

    def __init__(self, status: int, error: str, message: str) -> None:
        """Status code, machine-readable code, reason for a person."""
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
