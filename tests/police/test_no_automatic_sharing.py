"""Privacy invariant 2: no code path shares footage with an agency without the answer action.

Structural: footage reaches an agency only through `AnswerDelivery`, which needs an
`AnswerGrant`, which needs the private `_MINT` of `police/answers.py`; the only code in the hub
that touches `_MINT`, makes an `AnswerDelivery` or sends a share receipt is
`HouseholdRequests.answer` (the hub API's answer action, a person's tap). These tests fail if
anything else gains that power (a setting, a rule, a background task).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import doorward_hub
from doorward_hub.exports.exporter import Grant
from doorward_hub.police import decline_rules
from doorward_hub.police.answers import AnswerDelivery, AnswerGrant, AnswerPart
from doorward_hub.police.event_types import PoliceRequest

from .test_request_rules import request

PACKAGE = Path(doorward_hub.__file__).parent
GUARDED = {"_MINT", "AnswerDelivery", "AnswerGrant", "send_share_receipt"}


def _uses() -> dict[str, list[str]]:
    """Guarded name -> every `module:function` in the hub that mentions it (outside its
    definition in `police/answers.py`)."""
    found: dict[str, list[str]] = {name: [] for name in GUARDED}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = str(path.relative_to(PACKAGE))
        tree = ast.parse(path.read_text())
        scopes: list[tuple[ast.AST, str]] = [(tree, "<module>")]
        while scopes:
            node, scope = scopes.pop()
            for child in ast.iter_child_nodes(node):
                inner = scope
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    inner = child.name if scope == "<module>" else f"{scope}.{child.name}"
                if isinstance(child, ast.Name) and child.id in GUARDED:
                    found[child.id].append(f"{module}:{scope}")
                if isinstance(child, ast.alias) and child.name in GUARDED:
                    found[child.name].append(f"{module}:import")
                scopes.append((child, inner))
    return found


def test_only_the_answer_action_can_share_with_an_agency() -> None:
    """Outside `police/answers.py` itself, the guarded names appear only in the answer action
    (and the imports it needs)."""
    allowed = {"police/household.py:HouseholdRequests.answer", "police/household.py:import"}
    for name, places in _uses().items():
        outside = {p for p in places if not p.startswith("police/answers.py:")}
        assert outside <= allowed, f"{name} is used outside the answer action: {outside - allowed}"
    assert "police/household.py:HouseholdRequests.answer" in _uses()["_MINT"]


def test_a_grant_cannot_be_made_without_the_mint() -> None:
    """An `AnswerGrant` made elsewhere, a neighbor-post grant, or no grant at all is refused."""
    made: PoliceRequest = request()
    grant = Grant.new("rule engine", "1", "police_answer")
    with pytest.raises(PermissionError, match="only the answer action"):
        AnswerGrant(object(), grant, made)
    with pytest.raises(PermissionError, match="answer action's grant"):
        AnswerDelivery(None, Path(), grant, AnswerPart(1, 1))  # type: ignore[arg-type]


def test_decline_rules_can_only_decline() -> None:
    """The household's automatic rules reach nothing that shares: `police/decline_rules.py`
    imports only the request's shape and file helpers, names no export, grant or answer, and a
    rule's one outcome is a `RuleDecline`, which the hub records as a declined request."""
    path = PACKAGE / "police" / "decline_rules.py"
    tree = ast.parse(path.read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert imported <= {"__future__", "asyncio", "dataclasses", "pathlib", "typing",
                        "core.files", "event_types"}  # fmt: skip
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }
    sharing = GUARDED | {"Exporter", "Grant", "answer", "export", "share", "deliver"}
    assert not names & sharing
    assert decline_rules.DeclineRules.decline.__annotations__["return"] == "RuleDecline | None"
    assert [f.name for f in dataclasses.fields(decline_rules.RuleDecline)] == ["rule", "reason"]
    # The household's requests hand a rule's outcome to one place, which only declines.
    household = ast.parse((PACKAGE / "police" / "household.py").read_text())
    receive = next(
        node for node in ast.walk(household)
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "_receive"
    )  # fmt: skip
    assignments = [
        node for node in ast.walk(receive)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "state" for t in node.targets
        )
    ]  # fmt: skip
    assert [ast.literal_eval(a.value) for a in assignments] == ["declined"]
