"""The `doorward-hub` command line: light to start, and clear when the simulator is absent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

# Runs `doorward-hub ARGS` in a fresh interpreter, then prints which heavy modules it loaded.
_PROBE = """
import sys
{setup}
from doorward_hub.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("av", "zeroconf", "aiohttp.web", "doorward_simulator.device")
               if m in sys.modules)
print("LOADED", ",".join(heavy), "EXIT", code)
"""


def _probe(*args: str, setup: str = "") -> tuple[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(setup=setup), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout, result.stderr


def test_help_loads_neither_pyav_nor_zeroconf() -> None:
    out, _ = _probe("--help")
    assert "simulate" in out  # the simulator's commands are listed...
    assert out.splitlines()[-1] == "LOADED  EXIT 0"  # ...without loading what they run on


def test_simulate_help_loads_neither_pyav_nor_zeroconf() -> None:
    out, _ = _probe("simulate", "--help")
    assert "--doorbells" in out
    assert out.splitlines()[-1] == "LOADED  EXIT 0"


def test_simulator_commands_explain_when_the_package_is_missing() -> None:
    out, err = _probe(
        "simulate", "--doorbells", "2", setup="sys.modules['doorward_simulator'] = None"
    )
    assert out.splitlines()[-1] == "LOADED  EXIT 2"
    assert "doorward-hub simulate: the simulator is not installed" in err
    assert "pip install -e simulator" in err


def test_a_database_from_a_newer_hub_is_refused_with_a_message(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "hub.db") as db:
        db.execute("PRAGMA user_version=99")
    db.close()
    result = subprocess.run(
        [sys.executable, "-m", "doorward_hub", "pairing-code", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "doorward-hub: cannot open the database: "
        "the database has schema version 99; this hub knows up to 4"
    )
