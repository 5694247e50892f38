"""Fixtures for every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import loose_secrets


@pytest.fixture(autouse=True)
def no_readable_secrets(request: pytest.FixtureRequest) -> Iterator[None]:
    """Guard: no test leaves a hub data folder (database, keys, codes, clips, snapshots) that
    another local user could read (checked after the hub has stopped)."""
    root: Path | None = None
    if "tmp_path" in request.fixturenames:
        root = request.getfixturevalue("tmp_path")
    yield
    if root is not None:
        assert not loose_secrets(root), "world- or group-readable hub files left behind"
