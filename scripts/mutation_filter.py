"""Skip the mutants that are not behaviour of the module: those inside annotations (every hub
module has `from __future__ import annotations`, so `str | None` is never evaluated) and those
inside the arguments of a call on the module's logger (`_LOGGER.info(...)`: the wording and the
extra fields of a log line; a value computed outside the call and passed in stays mutated).
A Cosmic Ray filter for scripts/mutation:

    python mutation_filter.py SESSION                    skip those mutants
    python mutation_filter.py --rerun-survivors SESSION  forget the results of the survivors,
                                                         so that `cosmic-ray exec` runs them again
"""

from __future__ import annotations

import ast
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import TypeIs

from cosmic_ray.work_db import WorkDB, use_db  # type: ignore[import-untyped]
from cosmic_ray.work_item import (  # type: ignore[import-untyped]
    TestOutcome,
    WorkerOutcome,
    WorkResult,
)

type Span = tuple[tuple[int, int], tuple[int, int]]


LOGGER_NAMES = {"_LOGGER", "LOGGER", "logger", "_logger"}


def is_log_call(node: ast.AST) -> TypeIs[ast.Call]:
    """`_LOGGER.info(...)` and the like: a method call on the module's logger."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in LOGGER_NAMES
    )


def skipped_spans(source: str) -> dict[str, list[Span]]:
    """Where the annotations and the logger calls of `source` are, by reason:
    ((line, column), (end line, end column))."""
    spans: dict[str, list[Span]] = {
        "in an annotation: never evaluated": [],
        "in a log call: the wording of a log line": [],
    }
    annotation_reason, log_reason = spans
    for node in ast.walk(ast.parse(source)):
        if is_log_call(node) and node.end_lineno is not None:
            spans[log_reason].append(
                ((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset or 0))
            )
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.TypeAlias):
            annotations.append(node.value)
        for annotation in annotations:
            if annotation is not None and annotation.end_lineno is not None:
                spans[annotation_reason].append(
                    (
                        (annotation.lineno, annotation.col_offset),
                        (annotation.end_lineno, annotation.end_col_offset or 0),
                    )
                )
    return spans


def skip(session: str) -> int:
    """Mark every pending mutant that lies in an annotation or a log call as skipped."""
    sources: dict[Path, dict[str, list[Span]]] = {}
    skipped: Counter[str] = Counter()
    with use_db(session, WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            reasons: set[str] | None = None
            for mutation in item.mutations:
                path = Path(mutation.module_path)
                if path not in sources:
                    sources[path] = skipped_spans(path.read_text())
                start, end = tuple(mutation.start_pos), tuple(mutation.end_pos)
                inside = {
                    reason
                    for reason, spans in sources[path].items()
                    if any(a <= start and end <= b for a, b in spans)
                }
                reasons = inside if reasons is None else reasons & inside
            if reasons:
                reason = sorted(reasons)[0]
                db.set_result(
                    item.job_id,
                    WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=reason),
                )
                skipped[reason] += 1
    for reason, count in sorted(skipped.items()):
        print(f"skipped {count} mutants {reason}")
    return 0


def rerun_survivors(session: str) -> int:
    """Forget the results of the mutants that survived, so that the next exec runs them."""
    with use_db(session, WorkDB.Mode.open) as db:
        survivors = [
            item.job_id
            for item, result in db.completed_work_items
            if result.test_outcome is TestOutcome.SURVIVED
        ]
    with sqlite3.connect(session) as connection:
        connection.executemany(
            "DELETE FROM work_results WHERE job_id = ?", [(job,) for job in survivors]
        )
    print(f"running the {len(survivors)} survivors again")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--rerun-survivors":
        sys.exit(rerun_survivors(sys.argv[2]))
    sys.exit(skip(sys.argv[1]))
