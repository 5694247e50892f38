"""Files that are either wholly written or absent (a temporary file, fsync, rename), and private
(folders 0700, files 0600: the data folder holds secrets and footage)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

PARTIAL_SUFFIX = ".partial"
"""Added to a file's name while it is written; such files are left-overs after a crash."""


def write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to `target` so readers see the old file or the whole new one (blocking:
    call it off the event loop)."""
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(target)


def write_json_atomically(target: Path, data: Any) -> None:
    """`write_atomically` of `data` as JSON (blocking: call it off the event loop)."""
    write_atomically(target, json.dumps(data, indent=2, sort_keys=True).encode())


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when the file does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
"""Modes of everything in the data folder: device passwords, tokens, clips are the household's."""


def private_folder(path: Path) -> Path:
    """Create `path` (and parents) if needed, readable by the hub's user alone."""
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    path.chmod(PRIVATE_FOLDER)
    return path


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (then only fix its mode)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    path.chmod(PRIVATE_FILE)


def make_private(root: Path) -> int:
    """Give every folder under `root` mode 0700 and every file 0600 (blocking: off the event
    loop). Symbolic links are not followed. Returns how many modes were changed."""
    changed = 0
    for folder, subfolders, files in os.walk(root):
        for name, mode in [(folder, PRIVATE_FOLDER)] + [
            (os.path.join(folder, f), PRIVATE_FILE) for f in files
        ]:
            status = os.lstat(name)
            if not _is_link(status.st_mode) and status.st_mode & 0o777 != mode:
                os.chmod(name, mode)
                changed += 1
        subfolders[:] = [s for s in subfolders if not os.path.islink(os.path.join(folder, s))]
    return changed


def _is_link(mode: int) -> bool:
    return stat.S_ISLNK(mode)
