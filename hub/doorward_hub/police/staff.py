"""The agency's staff tokens: the bearer secrets its officers use with the agency API.

`doorward-hub agency token add NAME` makes one and prints it once; only its SHA-256 is kept, in
`<data>/police/agency/staff_tokens.json` (0600). The agency API names the officer of each
request in its audit entries (`staff:<token id>`), so every view, download and deletion is
traceable to a person.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from ..auth.tokens import digest
from ..core.files import read_json, write_json_atomically

TOKENS_FILE: Final = "staff_tokens.json"


@dataclass(frozen=True)
class StaffMember:
    """One officer's token as kept (never the secret)."""

    token_id: str
    name: str
    created_ms: int

    @property
    def actor(self) -> str:
        """How the audit log names this officer."""
        return f"staff:{self.token_id}"


class StaffTokens:
    """The officers' tokens of one agency hub, by hash."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        """Keep the tokens in `folder` (the agency's private folder)."""
        self._path = folder / TOKENS_FILE
        self._clock = clock
        self._by_hash: dict[str, StaffMember] = {}
        self._read_version: int | None = None
        self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        """Read the kept tokens again when the file changed (the CLI adds and revokes them
        while the service runs)."""
        try:
            version = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            version = None
        if version == self._read_version and self._read_version is not None:
            return
        self._read_version = version
        raw: dict[str, dict[str, object]] = read_json(self._path) or {}
        self._by_hash = {
            token_hash: StaffMember(
                str(entry["token_id"]), str(entry["name"]), int(str(entry["created_ms"]))
            )
            for token_hash, entry in raw.items()
        }

    def members(self) -> list[StaffMember]:
        """Every officer with a token, oldest first."""
        return sorted(self._by_hash.values(), key=lambda m: m.created_ms)

    def add(self, name: str) -> tuple[str, StaffMember]:
        """A new token for `name`: the secret (shown once) and its record (blocking I/O)."""
        token = secrets.token_urlsafe(32)
        member = StaffMember("staff_" + secrets.token_hex(6), name, int(self._clock() * 1000))
        self._by_hash[digest(token)] = member
        self._save()
        return token, member

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by its id; False if there is none (blocking I/O)."""
        kept = {h: m for h, m in self._by_hash.items() if m.token_id != token_id}
        if len(kept) == len(self._by_hash):
            return False
        self._by_hash = kept
        self._save()
        return True

    def verify(self, token: str) -> StaffMember | None:
        """The officer holding `token`, or None (blocking stat: a revocation applies at once)."""
        self._reload_if_changed()
        return self._by_hash.get(digest(token))

    def _save(self) -> None:
        write_json_atomically(self._path, {h: asdict(m) for h, m in self._by_hash.items()})
        self._read_version = self._path.stat().st_mtime_ns
