"""The household's automatic decline rules for police requests.

A household may have requests declined without being asked: those without a warrant, from an
agency not on its own list, over a larger area or a longer window than it accepts. A rule can
only decline: its one outcome is a `RuleDecline` (or nothing, and the request waits for a
person's answer). Automatic sharing does not exist (DESIGN.md, invariant 2): this module knows
nothing of exports, grants or answers, and `tests/police/test_no_automatic_sharing.py` holds it.

The rules live in one JSON file (0600) in the hub's data folder; they apply to requests as they
arrive, never to requests already shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from ..core.files import read_json, write_json_atomically
from .event_types import PoliceRequest

RULES_FILE: Final = "decline_rules.json"

type DeclineRule = Literal["no_warrant", "agency_not_allowed", "area_too_large", "window_too_long"]


@dataclass(frozen=True)
class RuleDecline:
    """Which rule declined a request, and why, for the household to read."""

    rule: DeclineRule
    reason: str


@dataclass(frozen=True)
class DeclineRules:
    """What this household declines without being asked; the defaults decline nothing."""

    require_warrant: bool = False
    """Decline requests without a warrant document attached."""
    allowed_agencies: tuple[str, ...] | None = None
    """Decline requests from agencies (Matrix ids) not listed here; None: no such rule."""
    max_area_m2: int | None = None
    """Decline requests whose area is larger; None: no such rule."""
    max_window_minutes: int | None = None
    """Decline requests whose time window is longer; None: no such rule."""

    def decline(self, request: PoliceRequest) -> RuleDecline | None:
        """The first rule that declines `request`, or None: a person decides."""
        if self.require_warrant and request.warrant is None:
            return RuleDecline("no_warrant", "no warrant document is attached")
        if self.allowed_agencies is not None and request.agency not in self.allowed_agencies:
            return RuleDecline(
                "agency_not_allowed", f"{request.agency} is not on the household's agency list"
            )
        if self.max_area_m2 is not None and request.area_m2 > self.max_area_m2:
            return RuleDecline(
                "area_too_large",
                f"the area is {request.area_m2} m², larger than the household's limit of "
                f"{self.max_area_m2} m²",
            )
        if self.max_window_minutes is not None and request.window_minutes > self.max_window_minutes:
            return RuleDecline(
                "window_too_long",
                f"the time window is {request.window_minutes} minutes, longer than the "
                f"household's limit of {self.max_window_minutes} minutes",
            )
        return None

    def to_json(self) -> dict[str, Any]:
        """As kept on disk and shown by the API."""
        return {
            "require_warrant": self.require_warrant,
            "allowed_agencies": (
                None if self.allowed_agencies is None else list(self.allowed_agencies)
            ),
            "max_area_m2": self.max_area_m2,
            "max_window_minutes": self.max_window_minutes,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DeclineRules:
        """From `to_json`'s shape (validated by the API's schema before it was stored)."""
        agencies = raw.get("allowed_agencies")
        return cls(
            require_warrant=bool(raw.get("require_warrant", False)),
            allowed_agencies=None if agencies is None else tuple(str(a) for a in agencies),
            max_area_m2=raw.get("max_area_m2"),
            max_window_minutes=raw.get("max_window_minutes"),
        )


class DeclineRulesFile:
    """The household's rules in `<folder>/decline_rules.json` (0600), read once, then cached."""

    def __init__(self, folder: Path) -> None:
        """Read the rules kept in `folder` (none kept: the defaults, which decline nothing)."""
        self.path = folder / RULES_FILE
        raw = read_json(self.path)
        self._rules = DeclineRules.from_json(raw) if isinstance(raw, dict) else DeclineRules()

    def current(self) -> DeclineRules:
        """The rules in force."""
        return self._rules

    async def replace(self, rules: DeclineRules) -> None:
        """Keep `rules` (on disk first, then in force)."""
        await asyncio.to_thread(write_json_atomically, self.path, rules.to_json())
        self._rules = rules
