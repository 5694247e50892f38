"""A real Synapse for the tests that need a homeserver (neighborhood, Home Assistant): the same
`scripts/synapse.py` a user runs, one server per test session on a free loopback port."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .support import free_port

REPO = Path(__file__).resolve().parents[1]


def _load_synapse_script() -> ModuleType:
    """`scripts/synapse.py`, the same code a user runs to install, configure and start Synapse."""
    spec = importlib.util.spec_from_file_location("doorward_synapse", REPO / "scripts/synapse.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


synapse = _load_synapse_script()


def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Run a Synapse (SQLite, registration by token, raised rate limits) until resumed."""
    if not synapse.installed():
        pytest.fail("Synapse is not installed: run `scripts/synapse install` (scripts/test does)")
    server = synapse.configure(
        tmp_path_factory.mktemp("synapse"), "street.test", free_port(), test_limits=True
    )
    process = synapse.start(server)
    yield server
    synapse.stop(process)


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running Synapse for the session."""
    yield from serve(tmp_path_factory)
