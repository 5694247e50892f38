"""A local Synapse homeserver for neighborhood groups: install, configure, start, make accounts.

Run through `scripts/synapse` (which provides the toolchain); tests and the demo import this file
and use the same functions, so they start Synapse exactly the way a user of the script does.

    scripts/synapse install                         Synapse into its own virtual environment
    scripts/synapse init DIR --server-name NAME     a configuration in DIR (loopback only,
                     [--port P] [--test-limits]     registration by token only)
    scripts/synapse start DIR                       run it in the foreground until Ctrl-C
    scripts/synapse register DIR USER PASSWORD      make an account (--admin: server admin)
    scripts/synapse token DIR [--uses N]            mint a registration token (server admin API)

Synapse lives in its own virtual environment next to the project's one (its pins differ from
Home Assistant's), locked by `scripts/synapse-requirements.txt`. Real deployments:
docs/homeserver.md.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "scripts" / "synapse-requirements.txt"
LOOPBACK = "127.0.0.1"
MAIN_CONFIG = "homeserver.yaml"
DOORWARD_CONFIG = "doorward.yaml"
ENDPOINT_FILE = "endpoint.json"
START_TIMEOUT = 60.0
# Rate limits for test runs, which register and message far faster than people do.
TEST_RATE_LIMITS: dict[str, Any] = {
    key: {"per_second": 1000, "burst_count": 1000}
    for key in (
        "rc_message",
        "rc_registration",
        "rc_joins_per_room",
        "rc_invites_per_issuer",
        "rc_3pid_validation",
        "rc_key_requests",
        "rc_room_creation",
        "rc_delayed_event_mgmt",
        "rc_reports",
        "rc_presence",
        "rc_media_create",
    )
} | {
    "rc_login": {
        kind: {"per_second": 1000, "burst_count": 1000}
        for kind in ("address", "account", "failed_attempts")
    },
    "rc_joins": {kind: {"per_second": 1000, "burst_count": 1000} for kind in ("local", "remote")},
    "rc_invites": {
        kind: {"per_second": 1000, "burst_count": 1000}
        for kind in ("per_room", "per_user", "per_issuer")
    },
    "rc_admin_redaction": {"per_second": 1000, "burst_count": 1000},
}


def venv() -> Path:
    """Synapse's virtual environment: `$DOORWARD_SYNAPSE_VENV`, else beside the project's venv."""
    configured = os.environ.get("DOORWARD_SYNAPSE_VENV")
    return Path(configured) if configured else Path(sys.prefix).parent / "doorward-synapse"


def _lock_stamp() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]


def installed() -> bool:
    """True if Synapse's venv holds exactly what the lock file says."""
    stamp = venv() / ".doorward-stamp"
    return stamp.is_file() and stamp.read_text().strip() == _lock_stamp()


def install() -> Path:
    """Create Synapse's virtual environment (once) and bring it to the lock file; returns it."""
    target = venv()
    if installed():
        return target
    if not (target / "pyvenv.cfg").is_file():
        print(f"synapse: creating the virtual environment {target}", file=sys.stderr)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(target)], check=True)  # noqa: S603
    print(f"synapse: installing {LOCK.name} into {target}", file=sys.stderr)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)  # noqa: S603
    subprocess.run([*pip, "-r", str(LOCK)], check=True)  # noqa: S603
    (target / ".doorward-stamp").write_text(_lock_stamp() + "\n")
    return target


def _python() -> str:
    if not installed():
        raise SystemExit("synapse: not installed or out of date; run `scripts/synapse install`")
    return str(venv() / "bin" / "python")


@dataclass(frozen=True)
class Homeserver:
    """A configured homeserver: where its files are and where it listens."""

    data_dir: Path
    server_name: str
    port: int
    registration_shared_secret: str

    @property
    def url(self) -> str:
        """The client-server API base URL."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def database(self) -> Path:
        """The SQLite database (tests read the stored bytes)."""
        return self.data_dir / "homeserver.db"

    @property
    def media_store(self) -> Path:
        """The folder where uploaded media is stored."""
        return self.data_dir / "media_store"

    @classmethod
    def load(cls, data_dir: Path) -> Homeserver:
        """The homeserver configured in `data_dir` by `configure`."""
        endpoint = json.loads((data_dir / ENDPOINT_FILE).read_text())
        main = yaml.safe_load((data_dir / MAIN_CONFIG).read_text())
        return cls(
            data_dir=data_dir,
            server_name=endpoint["server_name"],
            port=int(endpoint["port"]),
            registration_shared_secret=str(main["registration_shared_secret"]),
        )


@dataclass(frozen=True)
class Postgres:
    """A PostgreSQL database for Synapse (created with `ENCODING 'UTF8'` and C collation)."""

    host: str
    port: int
    user: str
    database: str
    password: str | None = None

    def settings(self) -> dict[str, Any]:
        """Synapse's `database` section."""
        args: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "database": self.database,
            "cp_min": 2,
            "cp_max": 10,
        }
        if self.password is not None:
            args["password"] = self.password
        return {"name": "psycopg2", "args": args}


def configure(
    data_dir: Path,
    server_name: str,
    port: int = 8008,
    *,
    test_limits: bool = False,
    postgres: Postgres | None = None,
) -> Homeserver:
    """Generate Synapse's configuration in `data_dir` (once) and apply Doorward's settings.

    Synapse writes `homeserver.yaml` with fresh secrets and a signing key; Doorward's settings
    go into `doorward.yaml`, loaded after it: the client API on 127.0.0.1 only, no federation
    listener, registration only with a registration token, no outbound key servers or stats.
    The database is SQLite in `data_dir` unless `postgres` names one.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    if not (data_dir / MAIN_CONFIG).exists():
        subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [
                _python(),
                "-m",
                "synapse.app.homeserver",
                "--server-name",
                server_name,
                "--config-path",
                str(data_dir / MAIN_CONFIG),
                "--data-directory",
                str(data_dir),
                "--generate-config",
                "--report-stats=no",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=data_dir,
        )
    settings: dict[str, Any] = {
        "listeners": [
            {
                "port": port,
                "bind_addresses": [LOOPBACK],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "public_baseurl": f"http://{LOOPBACK}:{port}/",
        "database": postgres.settings()
        if postgres
        else {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
        "media_store_path": str(data_dir / "media_store"),
        "enable_registration": True,
        "registration_requires_token": True,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "report_stats": False,
        "url_preview_enabled": False,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "log_config": None,
    }
    if test_limits:
        settings.update(TEST_RATE_LIMITS)
    settings = {key: value for key, value in settings.items() if value is not None}
    (data_dir / DOORWARD_CONFIG).write_text(yaml.safe_dump(settings, sort_keys=False))
    (data_dir / ENDPOINT_FILE).write_text(json.dumps({"server_name": server_name, "port": port}))
    return Homeserver.load(data_dir)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start(server: Homeserver, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start Synapse for `server` and return once its client API answers."""
    output = (log or server.data_dir / "synapse.out").open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            _python(),
            "-m",
            "synapse.app.homeserver",
            "--config-path",
            str(server.data_dir / MAIN_CONFIG),
            "--config-path",
            str(server.data_dir / DOORWARD_CONFIG),
        ],
        cwd=server.data_dir,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    output.close()
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(f"{server.url}/health"):
        if process.poll() is not None:
            raise RuntimeError(
                f"Synapse exited with code {process.returncode}; see {server.data_dir}/synapse.out"
            )
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"Synapse did not answer within {START_TIMEOUT:.0f} s")
        time.sleep(0.2)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a Synapse started by `start` (SIGTERM, then SIGKILL after 20 s)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _request(method: str, url: str, body: object = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"{method} {url}: {err.code} {err.read().decode()}") from err


def register(server: Homeserver, user: str, password: str, *, admin: bool = False) -> str:
    """Create an account with the shared secret, as `register_new_matrix_user` does; its token."""
    endpoint = f"{server.url}/_synapse/admin/v1/register"
    nonce = _request("GET", endpoint)["nonce"]
    message = "\x00".join([nonce, user, password, "admin" if admin else "notadmin"])
    mac = hmac.new(server.registration_shared_secret.encode(), message.encode(), hashlib.sha1)
    body = {
        "nonce": nonce,
        "username": user,
        "password": password,
        "admin": admin,
        "mac": mac.hexdigest(),
    }
    return str(_request("POST", endpoint, body)["access_token"])


def login(server: Homeserver, user: str, password: str) -> str:
    """A fresh access token for an account."""
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    return str(_request("POST", f"{server.url}/_matrix/client/v3/login", body)["access_token"])


def registration_token(server: Homeserver, admin_token: str, uses: int = 1) -> str:
    """Mint a registration token that allows `uses` registrations (server admin API)."""
    endpoint = f"{server.url}/_synapse/admin/v1/registration_tokens/new"
    return str(_request("POST", endpoint, {"uses_allowed": uses}, admin_token)["token"])


def _postgres(where: str | None, password_file: Path | None) -> Postgres | None:
    """`USER@HOST:PORT/DATABASE` from the command line."""
    if not where:
        return None
    user, _, rest = where.partition("@")
    address, _, database = rest.partition("/")
    host, _, port = address.rpartition(":")
    password = password_file.read_text().strip() if password_file else None
    return Postgres(host, int(port), user, database, password)


def _interrupt(*_: object) -> None:
    """SIGTERM stops `start` as Ctrl-C does."""
    raise KeyboardInterrupt


def main() -> int:
    """The `scripts/synapse` command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="Synapse into its own virtual environment")
    init = commands.add_parser("init", help="configure a homeserver in a folder")
    init.add_argument("data_dir", type=Path)
    init.add_argument("--server-name", required=True)
    init.add_argument("--port", type=int, default=8008)
    init.add_argument("--test-limits", action="store_true", help="raise rate limits for tests")
    init.add_argument("--postgres", metavar="USER@HOST:PORT/DATABASE", help="use PostgreSQL")
    init.add_argument(
        "--postgres-password-file", type=Path, help="file holding the PostgreSQL password"
    )
    run = commands.add_parser("start", help="run a configured homeserver until Ctrl-C")
    run.add_argument("data_dir", type=Path)
    account = commands.add_parser("register", help="make an account with the shared secret")
    account.add_argument("data_dir", type=Path)
    account.add_argument("user")
    account.add_argument("password")
    account.add_argument("--admin", action="store_true", help="a server administrator")
    token = commands.add_parser("token", help="mint a registration token")
    token.add_argument("data_dir", type=Path)
    token.add_argument("--admin-user", required=True)
    token.add_argument("--admin-password", required=True)
    token.add_argument("--uses", type=int, default=1)
    args = parser.parse_args()

    if args.command == "install":
        print(install())
    elif args.command == "init":
        server = configure(
            args.data_dir,
            args.server_name,
            args.port,
            test_limits=args.test_limits,
            postgres=_postgres(args.postgres, args.postgres_password_file),
        )
        print(f"configured {server.server_name} in {server.data_dir}; client API {server.url}")
    elif args.command == "start":
        server = Homeserver.load(args.data_dir.resolve())
        process = start(server)
        print(f"Synapse for {server.server_name} answers at {server.url} (Ctrl-C stops it)")
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            process.wait()
        except KeyboardInterrupt:
            # Stopped here, not in the signal handler: a handler that waits for the process
            # while `process.wait()` above holds its lock would wait forever.
            stop(process)
    elif args.command == "register":
        server = Homeserver.load(args.data_dir.resolve())
        register(server, args.user, args.password, admin=args.admin)
        print(f"@{args.user.lower()}:{server.server_name}")
    else:
        server = Homeserver.load(args.data_dir.resolve())
        admin = login(server, args.admin_user, args.admin_password)
        print(registration_token(server, admin, args.uses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
