"""Fail unless every module of a package is covered to a minimum, not only the total.

Reads coverage.py's JSON report (`--cov-report=json:FILE`) and names each module under the
minimum, with its missing lines. Run by `scripts/checks` after the integration tests.

    python scripts/module_coverage.py REPORT.json PACKAGE_DIR MINIMUM
"""

import json
import sys
from pathlib import Path
from typing import Any


def modules_under(report: dict[str, Any], package: Path, minimum: float) -> list[str]:
    """One line per module of `package` whose line coverage is below `minimum` percent."""
    failures = []
    measured = set()
    for name, data in sorted(report["files"].items()):
        path = Path(name)
        if package not in path.parents:
            continue
        measured.add(path)
        summary = data["summary"]
        if summary["percent_covered"] < minimum:
            missing = ", ".join(str(line) for line in data["missing_lines"])
            failures.append(
                f"{name}: {summary['percent_covered']:.1f} % "
                f"({summary['covered_lines']}/{summary['num_statements']}), missing: {missing}"
            )
    # A module no test imports is not in the report at all: that is 0 %, not a pass.
    for path in sorted(package.rglob("*.py")):
        if path not in measured:
            failures.append(f"{path}: not measured (no test imports it)")
    return failures


def main() -> int:
    """Print the modules under the minimum; exit 1 if there are any."""
    report_file, package, minimum = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    failures = modules_under(json.loads(Path(report_file).read_text()), package, minimum)
    for failure in failures:
        print(f"under {minimum:.0f} %: {failure}")
    if not failures:
        print(f"every module of {package} is covered to {minimum:.0f} % or more")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
