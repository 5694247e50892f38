"""The `doorward-hub` command: serve the hub, mint a pairing code, run simulated doorbells."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from doorward_hub import __version__
from doorward_hub.auth.pairing import Pairing
from doorward_hub.config import ConfigError, HubConfig, load_config
from doorward_hub.core.logs import configure_logging
from doorward_hub.core.memory import limit_heap_growth
from doorward_hub.neighborhood import cli as group_cli
from doorward_hub.police import cli as police_cli
from doorward_hub.storage.migrations import SchemaTooNew
from doorward_hub.storage.repositories import Repositories


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML configuration file")
    parser.add_argument("--data-dir", help="folder for the database and snapshots")


def _load(args: argparse.Namespace, **overrides: object) -> HubConfig:
    return load_config(args.config, {"data_dir": args.data_dir, **overrides})


def _serve(args: argparse.Namespace) -> int:
    config = _load(
        args,
        host=args.host,
        port=args.port,
        name=args.name,
        adoption=args.adoption,
        zeroconf_interfaces=args.interface or None,
        log_format=args.log_format,
        log_level=args.log_level,
    )
    configure_logging(config.log_format, config.log_level)
    os.umask(0o077)  # whatever the hub writes (secrets, footage) is its user's alone
    limit_heap_growth()  # before any video thread starts
    from doorward_hub.app import SHUTDOWN_DEADLINE, Hub  # noqa: PLC0415 - keeps `--help` and the other commands light

    try:
        asyncio.run(Hub(config).run_until_signalled(SHUTDOWN_DEADLINE))
    except OSError as err:
        print(f"doorward-hub: cannot start: {err}", file=sys.stderr)
        return 1
    return 0


def _pairing_code(args: argparse.Namespace) -> int:
    config = _load(args)

    async def mint() -> str:
        stored = await Repositories.open(config.data_dir / "hub.db")
        try:
            code_file = config.data_dir / "pairing-code"
            return await Pairing(stored.pairing_codes, stored.tokens, code_file).new_code()
        finally:
            await stored.close()

    if not (config.data_dir / "hub.db").exists():
        print(f"no hub database in {config.data_dir}; start the hub once first", file=sys.stderr)
        return 1
    print(asyncio.run(mint()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="doorward-hub", description="Self-hosted doorbell hub. No vendor cloud."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the hub")
    _add_config_flags(serve)
    serve.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="API port (default 8470; 0 = any free port)")
    serve.add_argument("--name", help="display name")
    serve.add_argument("--adoption", choices=["auto", "approve"], help="pair new doorbells")
    serve.add_argument(
        "--interface", action="append", help="interface address for mDNS (repeatable)"
    )
    serve.add_argument("--log-format", choices=["text", "json"])
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=_serve)

    code = commands.add_parser(
        "pairing-code", help="print a fresh one-time pairing code for a client"
    )
    _add_config_flags(code)
    code.set_defaults(func=_pairing_code)

    _register_simulator(commands)
    group_cli.register(commands)
    police_cli.register(commands)
    return parser


SIMULATOR_COMMANDS = ("simulate", "press", "motion")


def _register_simulator(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The simulator's commands when its package is installed (it is a development tool, not
    part of the hub's production install); otherwise commands that say how to get it."""
    try:
        from doorward_simulator import cli as simulator_cli  # noqa: PLC0415 - optional package
    except ImportError:
        for name in SIMULATOR_COMMANDS:
            # No option prefix: whatever follows is taken as is, then the message explains.
            missing = commands.add_parser(
                name, help="simulated doorbells (needs doorward-simulator)", prefix_chars="\0"
            )
            missing.add_argument("args", nargs="*")
            missing.set_defaults(func=_simulator_missing)
        return
    simulator_cli.register(commands)


def _simulator_missing(args: argparse.Namespace) -> int:
    print(
        f"doorward-hub {args.command}: the simulator is not installed; install the "
        "doorward-simulator package (from a checkout: pip install -e simulator)",
        file=sys.stderr,
    )
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as err:
        print(f"doorward-hub: {err}", file=sys.stderr)
        return 2
    except SchemaTooNew as err:
        print(f"doorward-hub: cannot open the database: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result
