"""Files that are either wholly written or absent: a temporary file, fsync, rename."""

from __future__ import annotations

import os
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
"""Added to a file's name while it is written; such files are left-overs after a crash."""


def write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to `target` so readers see the old file or the whole new one (blocking:
    call it off the event loop)."""
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    with partial.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(target)
