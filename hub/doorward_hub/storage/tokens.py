"""Client tokens, stored by the hash of their secret (table `tokens`)."""

from __future__ import annotations

from doorward_hub.models import TokenInfo
from doorward_hub.storage.database import Database


class TokenRepository:
    """Issued tokens: their hashes, names and last use."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def add_token(self, token: TokenInfo, token_hash: str) -> None:
        """Store a newly issued token (by its hash)."""
        async with self._db.write() as db:
            await db.execute(
                "INSERT INTO tokens (id, hash, client_name, created) VALUES (?, ?, ?, ?)",
                (token.id, token_hash, token.client_name, token.created),
            )

    async def token_hashes(self) -> dict[str, str]:
        """Map of token hash to token id, for every valid token."""
        return {row["hash"]: row["id"] for row in await self._db.all("SELECT id, hash FROM tokens")}

    async def list_tokens(self) -> list[TokenInfo]:
        """Every valid token, oldest first."""
        rows = await self._db.all("SELECT * FROM tokens ORDER BY created")
        return [
            TokenInfo(row["id"], row["client_name"], row["created"], row["last_used"])
            for row in rows
        ]

    async def delete_token(self, token_id: str) -> bool:
        """Revoke a token; False if there was none with that id."""
        async with (
            self._db.write() as db,
            db.execute("DELETE FROM tokens WHERE id = ?", (token_id,)) as deleted,
        ):
            return deleted.rowcount > 0

    async def touch_token(self, token_id: str, when: float) -> None:
        """Record when a token was last used."""
        async with self._db.write() as db:
            await db.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (when, token_id))
