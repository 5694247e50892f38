"""Where the neighborhood parts keep their files inside the hub's data folder."""

from __future__ import annotations

from pathlib import Path

from ..core.files import private_folder


def neighborhood_folder(data_dir: Path) -> Path:
    """`<data>/neighborhood`, readable by the hub's user only."""
    return private_folder(data_dir / "neighborhood")


def host_folder(data_dir: Path) -> Path:
    """The group host's Matrix account, crypto store and hosted group."""
    return private_folder(neighborhood_folder(data_dir) / "host")


def membership_folder(data_dir: Path) -> Path:
    """The household hub's Matrix account, crypto store, joined group and sync position."""
    return private_folder(neighborhood_folder(data_dir) / "member")
