"""Skip the mutants no test can kill because the code never runs: those inside annotations
(every hub module has `from __future__ import annotations`, so `str | None` is never evaluated).
A Cosmic Ray filter for scripts/mutation: python mutation_filter.py SESSION"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

type Span = tuple[tuple[int, int], tuple[int, int]]


def annotation_spans(source: str) -> list[Span]:
    """Where the annotations of `source` are: ((line, column), (end line, end column))."""
    spans: list[Span] = []
    for node in ast.walk(ast.parse(source)):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.TypeAlias):
            annotations.append(node.value)
        for annotation in annotations:
            if annotation is not None and annotation.end_lineno is not None:
                spans.append(
                    (
                        (annotation.lineno, annotation.col_offset),
                        (annotation.end_lineno, annotation.end_col_offset or 0),
                    )
                )
    return spans


def main(session: str) -> int:
    """Mark every pending mutant that lies in an annotation as skipped."""
    sources: dict[Path, list[Span]] = {}
    skipped = 0
    with use_db(session, WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            inside = True
            for mutation in item.mutations:
                path = Path(mutation.module_path)
                if path not in sources:
                    sources[path] = annotation_spans(path.read_text())
                start, end = tuple(mutation.start_pos), tuple(mutation.end_pos)
                inside &= any(a <= start and end <= b for a, b in sources[path])
            if inside:
                db.set_result(
                    item.job_id,
                    WorkResult(
                        worker_outcome=WorkerOutcome.SKIPPED,
                        output="in an annotation: never evaluated",
                    ),
                )
                skipped += 1
    print(f"skipped {skipped} mutants inside annotations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
