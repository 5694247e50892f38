"""One-time pairing codes, exchanged for client tokens."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from doorward_hub.auth.tokens import IssuedToken, digest
from doorward_hub.models import TokenInfo
from doorward_hub.storage.pairing_codes import PairingCodeRepository
from doorward_hub.storage.tokens import TokenRepository

_LOGGER = logging.getLogger(__name__)

# Letters and digits a person cannot confuse (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LIFETIME = 15 * 60.0
MAX_FAILED_ATTEMPTS = 5


def normalize_code(code: str) -> str:
    """Accept codes typed in lower case, with or without the dash or spaces."""
    compact = "".join(code.split()).replace("-", "").upper()
    return f"{compact[:4]}-{compact[4:]}"


class Pairing:
    """Issues one-time pairing codes and exchanges them for client tokens.

    The hub keeps one "console" code valid at all times: it is logged and written to
    `<data dir>/pairing-code` when it is made, after it is used, when it expires, and after
    `MAX_FAILED_ATTEMPTS` wrong codes (which also invalidate every other outstanding code).
    """

    def __init__(
        self,
        codes: PairingCodeRepository,
        tokens: TokenRepository,
        code_file: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Bind to the stored codes and tokens and the file the console code is written to."""
        self._codes = codes
        self._tokens = tokens
        self._code_file = code_file
        self._clock = clock
        self._failed = 0
        self._console_expires = 0.0

    async def new_code(self) -> str:
        """Make a fresh one-time code, valid for `CODE_LIFETIME` seconds."""
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        code = normalize_code(raw)
        await self._codes.add_pairing_code(digest(code), self._clock() + CODE_LIFETIME)
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
        os.fchmod(fd, 0o600)  # a file that was already there keeps its mode otherwise
        with os.fdopen(fd, "w") as file:
            file.write(code + "\n")

    async def redeem(self, code: str, client_name: str) -> IssuedToken | None:
        """Exchange a valid code for a new token; None if the code is wrong or expired."""
        if not await self._codes.redeem_pairing_code(digest(normalize_code(code)), self._clock()):
            self._failed += 1
            _LOGGER.warning(
                "Wrong pairing code", extra={"client": client_name, "failed": self._failed}
            )
            if self._failed >= MAX_FAILED_ATTEMPTS:
                self._failed = 0
                await self._codes.clear_pairing_codes()
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
        await self._tokens.add_token(info, digest(token))
        _LOGGER.info("Paired a client", extra={"client": client_name, "token_id": info.id})
        await self.refresh_console_code("used")
        return IssuedToken(token=token, token_id=info.id)
