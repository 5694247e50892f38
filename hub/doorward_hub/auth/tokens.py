"""Client authentication: one-time pairing codes and the bearer tokens they are exchanged for."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from doorward_hub.models import TokenInfo
from doorward_hub.storage.store import Store

_LOGGER = logging.getLogger(__name__)

# Letters and digits a person cannot confuse (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LIFETIME = 15 * 60.0
MAX_FAILED_ATTEMPTS = 5
TOKEN_TOUCH_INTERVAL = 60.0


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_code(code: str) -> str:
    """Accept codes typed in lower case, with or without the dash or spaces."""
    compact = "".join(code.split()).replace("-", "").upper()
    return f"{compact[:4]}-{compact[4:]}"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """The result of a successful pairing: the secret is shown once, here."""

    token: str
    token_id: str


class Pairing:
    """Issues one-time pairing codes and exchanges them for client tokens.

    The hub keeps one "console" code valid at all times: it is logged and written to
    `<data dir>/pairing-code` when it is made, after it is used, when it expires, and after
    `MAX_FAILED_ATTEMPTS` wrong codes (which also invalidate every other outstanding code).
    """

    def __init__(self, store: Store, code_file: Path, clock: Callable[[], float] = time.time):
        """Bind to the store and the file the console code is written to."""
        self._store = store
        self._code_file = code_file
        self._clock = clock
        self._failed = 0
        self._console_expires = 0.0

    async def new_code(self) -> str:
        """Make a fresh one-time code, valid for `CODE_LIFETIME` seconds."""
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        code = normalize_code(raw)
        await self._store.add_pairing_code(_digest(code), self._clock() + CODE_LIFETIME)
        return code

    async def refresh_console_code(self, reason: str) -> str:
        """Make a new console code, log it and write it to the code file."""
        code = await self.new_code()
        self._console_expires = self._clock() + CODE_LIFETIME
        self._write_code_file(code)
        _LOGGER.warning(
            "Pairing code: %s (valid %d minutes, one use)",
            code,
            CODE_LIFETIME // 60,
            extra={"reason": reason, "code_file": str(self._code_file)},
        )
        return code

    async def refresh_if_expired(self) -> None:
        """Called periodically: replace the console code when it has expired."""
        if self._clock() >= self._console_expires:
            await self.refresh_console_code("expired")

    def _write_code_file(self, code: str) -> None:
        # A few bytes to a local file: not worth an executor hop.
        fd = os.open(self._code_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(code + "\n")

    async def redeem(self, code: str, client_name: str) -> IssuedToken | None:
        """Exchange a valid code for a new token; None if the code is wrong or expired."""
        if not await self._store.redeem_pairing_code(_digest(normalize_code(code)), self._clock()):
            self._failed += 1
            _LOGGER.warning(
                "Wrong pairing code", extra={"client": client_name, "failed": self._failed}
            )
            if self._failed >= MAX_FAILED_ATTEMPTS:
                self._failed = 0
                await self._store.clear_pairing_codes()
                await self.refresh_console_code("too many wrong codes")
            return None
        self._failed = 0
        token = secrets.token_urlsafe(32)
        info = TokenInfo(
            id="tok_" + secrets.token_hex(6),
            client_name=client_name,
            created=self._clock(),
            last_used=None,
        )
        await self._store.add_token(info, _digest(token))
        _LOGGER.info("Paired a client", extra={"client": client_name, "token_id": info.id})
        await self.refresh_console_code("used")
        return IssuedToken(token=token, token_id=info.id)


class TokenRegistry:
    """Checks bearer tokens against the stored hashes, kept in memory for speed."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        """Bind to the store; call `load` before use."""
        self._store = store
        self._clock = clock
        self._by_hash: dict[str, str] = {}
        self._touched: dict[str, float] = {}

    async def load(self) -> None:
        """Read the valid tokens from the store."""
        self._by_hash = await self._store.token_hashes()

    def add(self, issued: IssuedToken) -> None:
        """Accept a token issued by pairing."""
        self._by_hash[_digest(issued.token)] = issued.token_id

    async def verify(self, token: str) -> str | None:
        """The token's id if it is valid, else None. Notes its use (at most once a minute)."""
        token_id = self._by_hash.get(_digest(token))
        if token_id is None:
            return None
        now = self._clock()
        if now - self._touched.get(token_id, 0.0) >= TOKEN_TOUCH_INTERVAL:
            self._touched[token_id] = now
            await self._store.touch_token(token_id, now)
        return token_id

    async def revoke(self, token_id: str) -> bool:
        """Revoke a token; False if unknown."""
        if not await self._store.delete_token(token_id):
            return False
        self._by_hash = {h: i for h, i in self._by_hash.items() if i != token_id}
        self._touched.pop(token_id, None)
        return True
