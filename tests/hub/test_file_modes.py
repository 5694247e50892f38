"""The data folder is the hub user's alone (issue 15, item 8): folder 0700, every file 0600 —
database with its WAL and shared memory, pairing code, snapshots, clips — for new installs and
for installs made before this rule (fixed at start)."""

from __future__ import annotations

import os
from pathlib import Path

from doorward_hub.app import Hub
from doorward_hub.core.files import make_private, write_atomically

from .conftest import hub_config, loose_secrets


async def test_a_new_data_folder_is_private(tmp_path: Path) -> None:
    hub = Hub(hub_config(tmp_path / "hub"))
    await hub.start()
    try:
        await hub.snapshots.save(1, b"\xff\xd8jpeg")
        data_dir = hub.config.data_dir
        names = {p.name for p in data_dir.rglob("*")}
        assert {"hub.db", "hub.db-wal", "hub.db-shm", "pairing-code", "1.jpg"} <= names
        assert not loose_secrets(tmp_path), "while running"
    finally:
        await hub.stop()
    assert not loose_secrets(tmp_path), "after stopping"


async def test_an_existing_install_is_made_private_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "hub"
    hub = Hub(hub_config(data_dir))
    await hub.start()
    await hub.snapshots.save(7, b"\xff\xd8jpeg")
    await hub.stop()
    (data_dir / "clips" / "old.mp4").write_bytes(b"mp4")
    for path in [data_dir, *data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert loose_secrets(tmp_path)

    hub = Hub(hub_config(data_dir))
    await hub.start()
    try:
        assert not loose_secrets(tmp_path)
    finally:
        await hub.stop()


def test_make_private_does_not_follow_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not the hub's")
    outside.chmod(0o644)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "link").symlink_to(outside)
    write_atomically(data_dir / "file", b"x")
    assert (data_dir / "file").stat().st_mode & 0o777 == 0o600
    make_private(data_dir)
    assert outside.stat().st_mode & 0o777 == 0o644
    assert os.stat(data_dir).st_mode & 0o777 == 0o700
