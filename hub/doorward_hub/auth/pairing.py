"""One-time pairing codes, exchanged for client tokens."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from doorward_hub.auth.guesses import GuessLimiter, TooManyGuesses
from doorward_hub.auth.tokens import IssuedToken, digest
from doorward_hub.models import TokenInfo
from doorward_hub.storage.pairing_codes import PairingCodeRepository
from doorward_hub.storage.tokens import TokenRepository

_LOGGER = logging.getLogger(__name__)

__all__ = ["Pairing", "TooManyGuesses", "normalize_code"]

# Letters and digits a person cannot confuse (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LIFETIME = 15 * 60.0
MAX_FAILED_ATTEMPTS = 5
# Wrong guesses rotate the console code at most this often, so that strangers guessing from
# many addresses cannot replace it faster than the owner can read and type it (docs/pairing.md).
ROTATION_INTERVAL = 120.0


def normalize_code(code: str) -> str:
    """Accept codes typed in lower case, with or without the dash or spaces."""
    compact = "".join(code.split()).replace("-", "").upper()
    return f"{compact[:4]}-{compact[4:]}"


class Pairing:
    """Issues one-time pairing codes and exchanges them for client tokens.

    The hub keeps one "console" code valid at all times: it is logged and written to
    `<data dir>/pairing-code` when it is made, after it is used, when it expires, and after
    `MAX_FAILED_ATTEMPTS` wrong codes (at most once per `rotation_interval`). Every rotation
    replaces every outstanding code in one transaction, and redemptions run one at a time, so a
    burst of parallel guesses sees exactly one valid code throughout. Each source that guesses
    wrong is slowed down on its own (`GuessLimiter`); other sources are not.
    """

    def __init__(
        self,
        codes: PairingCodeRepository,
        tokens: TokenRepository,
        code_file: Path,
        *,
        clock: Callable[[], float] = time.time,
        rotation_interval: float = ROTATION_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Bind to the stored codes and tokens and the file the console code is written to.

        `clock` (wall time) dates codes; `monotonic` paces rotations and each source's back-off.
        """
        self._codes = codes
        self._tokens = tokens
        self._code_file = code_file
        self._clock = clock
        self._failed = 0
        self._console_expires = 0.0
        self._last_failure_rotation = -rotation_interval
        self.rotation_interval = rotation_interval
        self._monotonic = monotonic
        self.guesses = GuessLimiter(clock=monotonic)
        self._lock = asyncio.Lock()

    async def new_code(self) -> str:
        """Make an extra one-time code (for the `pairing-code` command), valid `CODE_LIFETIME`."""
        code = _random_code()
        await self._codes.add_pairing_code(digest(code), self._clock() + CODE_LIFETIME)
        return code

    async def refresh_console_code(self, reason: str) -> str:
        """Replace every outstanding code by a new console code; log it and write the code file."""
        code = _random_code()
        await self._codes.replace_pairing_codes(digest(code), self._clock() + CODE_LIFETIME)
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
        async with self._lock:
            if self._clock() >= self._console_expires:
                await self.refresh_console_code("expired")

    def _write_code_file(self, code: str) -> None:
        # A few bytes to a local file: not worth an executor hop.
        fd = os.open(self._code_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file that was already there keeps its mode otherwise
        with os.fdopen(fd, "w") as file:
            file.write(code + "\n")

    async def redeem(self, code: str, client_name: str, source: str) -> IssuedToken | None:
        """Exchange a valid code for a new token; None if the code is wrong or expired.

        Raises `TooManyGuesses` (without looking at the code) while `source` is backing off.
        """
        async with self._lock:
            self.guesses.check(source)
            if not await self._codes.redeem_pairing_code(
                digest(normalize_code(code)), self._clock()
            ):
                await self._wrong_code(client_name, source)
                return None
            try:
                return await self._issue_token(client_name, source)
            finally:
                # Used (or lost to a failure after it was used): the owner needs a new one.
                await self.refresh_console_code("used")

    async def _wrong_code(self, client_name: str, source: str) -> None:
        self._failed += 1
        self.guesses.failed(source)
        _LOGGER.warning(
            "Wrong pairing code",
            extra={"client": client_name, "source": source, "failed": self._failed},
        )
        now = self._monotonic()
        if (
            self._failed >= MAX_FAILED_ATTEMPTS
            and now - self._last_failure_rotation >= self.rotation_interval
        ):
            self._failed = 0
            self._last_failure_rotation = now
            await self.refresh_console_code("too many wrong codes")

    async def _issue_token(self, client_name: str, source: str) -> IssuedToken:
        self._failed = 0
        self.guesses.succeeded(source)
        token = secrets.token_urlsafe(32)
        info = TokenInfo(
            id="tok_" + secrets.token_hex(6),
            client_name=client_name,
            created=self._clock(),
            last_used=None,
        )
        await self._tokens.add_token(info, digest(token))
        _LOGGER.info(
            "Paired a client", extra={"client": client_name, "token_id": info.id, "source": source}
        )
        return IssuedToken(token=token, token_id=info.id)


def _random_code() -> str:
    return normalize_code("".join(secrets.choice(CODE_ALPHABET) for _ in range(8)))
