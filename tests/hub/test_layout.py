"""The package's layout holds: no two modules of the hub import each other, directly or not."""

from __future__ import annotations

import ast
from pathlib import Path

import doorward_hub

PACKAGE = Path(doorward_hub.__file__).parent


def _import_graph() -> dict[str, set[str]]:
    """Module -> the hub modules it imports when it is loaded (not under TYPE_CHECKING, not
    inside functions: those imports cannot form a circle at import time)."""
    modules = {
        ".".join(("doorward_hub", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
            ".__init__"
        ): path
        for path in PACKAGE.rglob("*.py")
    }
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("doorward_hub"):
                assert node.module is not None
                for alias in node.names:
                    imported = f"{node.module}.{alias.name}"
                    graph[name].add(imported if imported in modules else node.module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for target in sorted(graph.get(name, ())):
            if target in path:
                found.append([*path[path.index(target) :], target])
            elif target not in done and target in graph:
                visit(target, [*path, target])
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    return found


def test_the_graph_sees_the_composition_root() -> None:
    graph = _import_graph()
    assert "doorward_hub.web.server" in graph["doorward_hub.app"]
    assert "doorward_hub.storage.repositories" in graph["doorward_hub.app"]


def test_no_module_of_the_hub_imports_itself_through_others() -> None:
    assert _cycles(_import_graph()) == []


def test_a_circle_would_be_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
