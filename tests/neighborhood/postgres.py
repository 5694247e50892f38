"""A throwaway PostgreSQL cluster on loopback for a Synapse that runs on PostgreSQL.

PostgreSQL refuses to run as root, so the cluster belongs to Debian's `postgres` user (the
`postgresql` package makes it; `scripts/toolchain` installs the package).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = "127.0.0.1"
USER = "synapse"


def _binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql)")
    return found[-1].parent


def _as_postgres(*command: str) -> None:
    runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if runuser is None:
        raise RuntimeError("runuser (util-linux) is needed to run PostgreSQL as its own user")
    subprocess.run([runuser, "-u", "postgres", "--", *command], check=True, capture_output=True)


@contextmanager
def cluster(port: int) -> Iterator[tuple[str, int, str, str]]:
    """Run a cluster on 127.0.0.1:`port` with a `synapse` database (UTF8, C collation) owned
    by the `synapse` role (trust authentication on loopback); yields (host, port, user, db)."""
    binaries = _binaries()
    folder = Path(tempfile.mkdtemp(prefix="doorward-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    _as_postgres(
        str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", USER,
        "--encoding=UTF8", "--locale=C",
    )  # fmt: skip
    _as_postgres(
        str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
        "-o", f"-h {LOOPBACK} -p {port} -k {folder}", "start",
    )  # fmt: skip
    try:
        _as_postgres(
            str(binaries / "createdb"), "-h", LOOPBACK, "-p", str(port), "-U", USER,
            "--template=template0", "--locale=C", "--encoding=UTF8", "-O", USER, "synapse",
        )  # fmt: skip
        yield LOOPBACK, port, USER, "synapse"
    finally:
        _as_postgres(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
