"""Client tokens: bearer secrets stored only as hashes, checked in memory."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from doorward_hub.storage.tokens import TokenRepository

TOKEN_TOUCH_INTERVAL = 60.0


def digest(secret: str) -> str:
    """What is stored in place of a secret (token or pairing code)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """The result of a successful pairing: the secret is shown once, here."""

    token: str
    token_id: str


class TokenRegistry:
    """Checks bearer tokens against the stored hashes, kept in memory for speed."""

    def __init__(self, store: TokenRepository, clock: Callable[[], float] = time.time):
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
        self._by_hash[digest(issued.token)] = issued.token_id

    async def verify(self, token: str) -> str | None:
        """The token's id if it is valid, else None. Notes its use (at most once a minute)."""
        token_id = self._by_hash.get(digest(token))
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
