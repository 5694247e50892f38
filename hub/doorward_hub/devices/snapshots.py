"""Pictures taken at the moment of an event, kept as JPEG files named by event seq."""

from __future__ import annotations

import asyncio
from pathlib import Path

from doorward_hub.core.files import private_folder, write_atomically


class SnapshotStore:
    """A folder of `<seq>.jpg` files; writes are atomic and happen off the event loop."""

    def __init__(self, folder: Path) -> None:
        """Use (and create) `folder`."""
        self.folder = folder
        private_folder(folder)

    def path(self, seq: int) -> Path:
        """Where the snapshot of event `seq` is (or would be)."""
        return self.folder / f"{seq}.jpg"

    async def save(self, seq: int, jpeg: bytes) -> None:
        """Store the snapshot of event `seq`: temporary file, fsync, rename."""
        await asyncio.to_thread(write_atomically, self.path(seq), jpeg)

    async def load(self, seq: int) -> bytes | None:
        """The snapshot of event `seq`, or None if there is none."""
        try:
            return await asyncio.to_thread(self.path(seq).read_bytes)
        except FileNotFoundError:
            return None
