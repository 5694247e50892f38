"""Every repository over one database: what the hub opens at start and closes at stop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from doorward_hub.storage.clips import ClipRepository
from doorward_hub.storage.database import Database
from doorward_hub.storage.doorbells import DoorbellRepository
from doorward_hub.storage.events import EventRepository
from doorward_hub.storage.pairing_codes import PairingCodeRepository
from doorward_hub.storage.settings import SettingsRepository
from doorward_hub.storage.tokens import TokenRepository


@dataclass(frozen=True, slots=True)
class Repositories:
    """One repository per domain, sharing one connection."""

    database: Database
    settings: SettingsRepository
    doorbells: DoorbellRepository
    events: EventRepository
    clips: ClipRepository
    tokens: TokenRepository
    pairing_codes: PairingCodeRepository

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open (creating and migrating if needed) the database at `path`."""
        db = await Database.open(path)
        return cls(
            database=db,
            settings=SettingsRepository(db),
            doorbells=DoorbellRepository(db),
            events=EventRepository(db),
            clips=ClipRepository(db),
            tokens=TokenRepository(db),
            pairing_codes=PairingCodeRepository(db),
        )

    async def close(self) -> None:
        """Close the database."""
        await self.database.close()
