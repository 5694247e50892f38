"""Summarise one Cosmic Ray session (scripts/mutation): mutants, killed, survived, score
(skipped mutants, see mutation_filter.py, are not counted; a timeout counts as killed) and
every survivor with its diff.
Run inside the toolchain: python mutation_report.py SESSION"""

from __future__ import annotations

import sys
from collections import Counter

from cosmic_ray.work_db import WorkDB, use_db  # type: ignore[import-untyped]
from cosmic_ray.work_item import TestOutcome, WorkerOutcome  # type: ignore[import-untyped]


def main(session: str) -> int:
    """Print the summary; exit 1 if any mutant was left untested or its run failed."""
    with use_db(session, WorkDB.Mode.open) as db:
        finished = list(db.completed_work_items)
        pending = db.num_work_items - db.num_results
    done = [(i, r) for i, r in finished if r.worker_outcome is not WorkerOutcome.SKIPPED]
    skipped = len(finished) - len(done)
    outcomes = Counter(result.test_outcome for _, result in done)
    timeouts = sum(
        1 for _, r in done if r.test_outcome is TestOutcome.KILLED and r.output == "timeout"
    )
    killed = outcomes[TestOutcome.KILLED] + outcomes[TestOutcome.INCOMPETENT]
    survivors = [(i, r) for i, r in done if r.test_outcome is TestOutcome.SURVIVED]
    errors = len(done) - killed - len(survivors)  # the worker itself failed: not a verdict
    total = len(done)
    score = 100.0 * killed / total if total else 0.0
    print(
        f"mutants: {total}  killed: {outcomes[TestOutcome.KILLED] - timeouts}"
        f"  timeouts (counted killed): {timeouts}"
        f"  incompetent (crashed, counted killed): {outcomes[TestOutcome.INCOMPETENT]}"
        f"  survived: {len(survivors)}  score: {score:.1f} %"
        f"  (skipped, annotations and log calls: {skipped})"
        + (f"  NOT RUN: {pending}" if pending else "")
        + (f"  WORKER ERRORS: {errors}" if errors else "")
    )
    for item, result in survivors:
        for mutation in item.mutations:
            line = mutation.start_pos[0]
            print(f"\nSURVIVED {mutation.module_path}:{line} {mutation.operator_name}")
        print((result.diff or "").rstrip())
    return 1 if pending or errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
