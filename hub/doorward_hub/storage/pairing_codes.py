"""Outstanding one-time pairing codes, stored by hash (table `pairing_codes`)."""

from __future__ import annotations

from doorward_hub.storage.database import Database


class PairingCodeRepository:
    """Adds, redeems (once) and clears pairing codes."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def add_pairing_code(self, code_hash: str, expires: float) -> None:
        """Store a one-time pairing code (by its hash)."""
        async with self._db.write() as db:
            await db.execute(
                "INSERT OR REPLACE INTO pairing_codes (hash, expires) VALUES (?, ?)",
                (code_hash, expires),
            )

    async def replace_pairing_codes(self, code_hash: str, expires: float) -> None:
        """Make this the only outstanding code (one transaction: never none, never two)."""
        async with self._db.write() as db:
            await db.execute("DELETE FROM pairing_codes")
            await db.execute(
                "INSERT INTO pairing_codes (hash, expires) VALUES (?, ?)", (code_hash, expires)
            )

    async def redeem_pairing_code(self, code_hash: str, now: float) -> bool:
        """Use up a code: True if it existed and had not expired. A code dies at `expires`, the
        moment the console code is replaced. Expired codes are purged."""
        async with self._db.write() as db:
            await db.execute("DELETE FROM pairing_codes WHERE expires <= ?", (now,))
            async with db.execute(
                "DELETE FROM pairing_codes WHERE hash = ?", (code_hash,)
            ) as deleted:
                return deleted.rowcount > 0

    async def clear_pairing_codes(self) -> None:
        """Invalidate every outstanding pairing code."""
        async with self._db.write() as db:
            await db.execute("DELETE FROM pairing_codes")
