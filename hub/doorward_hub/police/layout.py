"""Where the police parts keep their files inside the hub's data folder."""

from __future__ import annotations

from pathlib import Path

from ..core.files import private_folder


def agency_folder(data_dir: Path) -> Path:
    """`<data>/police/agency`: the agency hub's Matrix account, crypto store and group (0700)."""
    return private_folder(private_folder(data_dir / "police") / "agency")


def evidence_folder(data_dir: Path) -> Path:
    """`<data>/police/evidence`: the agency's received footage and its index (0700)."""
    return private_folder(private_folder(data_dir / "police") / "evidence")
