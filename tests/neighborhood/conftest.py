"""Fixtures for neighborhood tests: one real Synapse per session on a free loopback port."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ..homeserver import homeserver, synapse
from ..support import free_port
from . import postgres

__all__ = ["homeserver", "synapse"]


@pytest.fixture(scope="session")
def postgres_homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second Synapse, on PostgreSQL (as larger groups run it), for the session."""
    if not synapse.installed():
        pytest.fail("Synapse is not installed: run `scripts/synapse install` (scripts/test does)")
    with postgres.cluster(free_port()) as (host, port, user, database):
        server = synapse.configure(
            tmp_path_factory.mktemp("synapse-pg"),
            "city.test",
            free_port(),
            test_limits=True,
            postgres=synapse.Postgres(host, port, user, database),
        )
        process = synapse.start(server)
        yield server
        synapse.stop(process)


@pytest.fixture(scope="session")
def server_admin(homeserver: Any) -> tuple[str, str]:
    """A server administrator's user id and access token (the group host's account)."""
    name = f"admin-{secrets.token_hex(4)}"
    token = synapse.register(homeserver, name, secrets.token_urlsafe(16), admin=True)
    return f"@{name}:{homeserver.server_name}", token


class Connections:
    """Every address this process connects a socket to while recording (privacy invariant 1:
    the no-egress check). Uses the interpreter's `socket.connect` audit event."""

    def __init__(self) -> None:
        """Not recording yet."""
        self.recording = False
        self.seen: list[tuple[str, int]] = []

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook."""
        if self.recording and event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple):
                self.seen.append((str(address[0]), int(address[1])))

    @contextmanager
    def record(self) -> Iterator[list[tuple[str, int]]]:
        """Record the connections made inside the block."""
        self.seen = []
        self.recording = True
        try:
            yield self.seen
        finally:
            self.recording = False


_CONNECTIONS = Connections()
sys.addaudithook(_CONNECTIONS.hook)


@pytest.fixture
def connections() -> Connections:
    """The process's outgoing connections, recorded on request."""
    return _CONNECTIONS
