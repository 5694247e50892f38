"""Fixtures for police request tests: the neighborhood tests' real Synapse (one per session)."""

from __future__ import annotations

from ..homeserver import homeserver, synapse

__all__ = ["homeserver", "synapse"]
