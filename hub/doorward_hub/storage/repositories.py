"""Every repository over one database: what the hub opens at start and closes at stop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from doorward_hub.storage.clips import ClipRepository
from doorward_hub.storage.database import Database
from doorward_hub.storage.doorbells import DoorbellRepository
from doorward_hub.storage.event_writer import EventWriter
from doorward_hub.storage.events import EventRepository
from doorward_hub.storage.pairing_codes import PairingCodeRepository
from doorward_hub.storage.settings import SettingsRepository
from doorward_hub.storage.tokens import TokenRepository


@dataclass(frozen=True, slots=True)
class Repositories:
    """One repository per domain, sharing one connection; events are written by their own writer."""

    database: Database
    event_writer: EventWriter
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
        try:
            writer = await EventWriter.open(path)
        except BaseException:
            await db.close()
            raise
        return cls(
            database=db,
            event_writer=writer,
            settings=SettingsRepository(db),
            doorbells=DoorbellRepository(db),
            events=EventRepository(db, writer),
            clips=ClipRepository(db, writer),
            tokens=TokenRepository(db),
            pairing_codes=PairingCodeRepository(db),
        )

    async def close(self) -> None:
        """Finish the events submitted, then close the database."""
        await self.event_writer.close()
        await self.database.close()
