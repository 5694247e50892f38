"""Group host commands of `doorward-hub`: ``group create``, ``invite``, ``members``, ``remove``
(and the police parts' ``group agency ...`` and ``group moderate``, from `police/cli.py`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..police import cli as police_cli
from .event_types import GroupPolicy

if TYPE_CHECKING:
    from .group_host import GroupHost

type _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(subparsers: _SubParsers) -> None:
    """Add the `group` command and its subcommands to the hub's command line."""
    group = subparsers.add_parser(
        "group",
        help="host a neighborhood group on a Matrix homeserver (group role)",
        description="Commands of the group host. The group admin's Matrix account must be a "
        "server administrator (it mints single-use registration tokens for invites).",
    )
    commands = group.add_subparsers(dest="group_command", required=True)

    create = commands.add_parser("create", help="create the group: space and encrypted rooms")
    _add_data_flags(create)
    create.add_argument("--homeserver", required=True, help="homeserver URL, e.g. https://...")
    create.add_argument("--user", required=True, help="the group admin's Matrix user name")
    create.add_argument(
        "--password-file", type=Path, help="file holding the password (default: ask)"
    )
    create.add_argument("--name", required=True, help="the group's name, e.g. 'Elm Street'")
    defaults = GroupPolicy()
    create.add_argument(
        "--max-request-area-m2", type=_positive_int, default=defaults.max_request_area_m2
    )
    create.add_argument(
        "--max-request-window-minutes",
        type=_positive_int,
        default=defaults.max_request_window_minutes,
    )
    create.add_argument(
        "--legal-basis",
        action="append",
        help=f"accepted legal basis (repeatable; default: {', '.join(defaults.legal_bases)})",
    )
    create.add_argument(
        "--max-export-retention-days",
        type=_positive_int,
        default=defaults.max_export_retention_days,
    )
    create.add_argument(
        "--warrant-required",
        action="store_true",
        help="police requests must carry a warrant document",
    )
    create.set_defaults(func=_run(_create))

    invite = commands.add_parser("invite", help="print a single-use invite for one household")
    _add_data_flags(invite)
    invite.add_argument(
        "--homeserver-url", help="the URL households reach the homeserver at (default: as used)"
    )
    invite.set_defaults(func=_run(_invite))

    members = commands.add_parser("members", help="list the group's members and invites")
    _add_data_flags(members)
    members.add_argument("--json", action="store_true", help="one JSON document")
    members.set_defaults(func=_run(_members))

    remove = commands.add_parser("remove", help="remove a member or withdraw an invite")
    _add_data_flags(remove)
    remove.add_argument("user_id", help="the member's Matrix id, as `group members` lists it")
    remove.add_argument("--reason", default="removed by the group admin", help="shown to them")
    remove.set_defaults(func=_run(_remove))

    police_cli.register_group_commands(commands, _add_data_flags)


def _add_data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML configuration file")
    parser.add_argument("--data-dir", help="the hub's data folder")


def _host_class() -> type[GroupHost]:
    from .group_host import GroupHost  # noqa: PLC0415 - see `_run`

    return GroupHost


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def _run(
    command: Callable[[argparse.Namespace, Path], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        # Matrix and the hub's configuration load only when a group command runs (`--help`
        # stays light).
        from ..config import load_config  # noqa: PLC0415
        from .errors import MatrixError  # noqa: PLC0415
        from .layout import host_folder  # noqa: PLC0415

        config = load_config(args.config, {"data_dir": args.data_dir})
        try:
            return asyncio.run(command(args, host_folder(config.data_dir)))
        except MatrixError as err:
            print(f"doorward-hub group: {err}", file=sys.stderr)
            return 1

    return run


async def _create(args: argparse.Namespace, folder: Path) -> int:
    if args.password_file:
        password = args.password_file.read_text().strip()
    else:
        password = await asyncio.to_thread(getpass.getpass, f"Password for {args.user}: ")
    policy = GroupPolicy(
        max_request_area_m2=args.max_request_area_m2,
        max_request_window_minutes=args.max_request_window_minutes,
        legal_bases=tuple(args.legal_basis or GroupPolicy().legal_bases),
        max_export_retention_days=args.max_export_retention_days,
        warrant_required=args.warrant_required,
    )
    host = await _host_class().sign_in(folder, args.homeserver, args.user, password)
    try:
        group = await host.create(args.name, policy)
    finally:
        await host.close()
    print(f"created {group.name!r}: space {group.space_id}")
    for name, room_id in group.rooms.items():
        print(f"  {name}: {room_id}")
    return 0


async def _invite(args: argparse.Namespace, folder: Path) -> int:
    host = _host_class().restore(folder)
    try:
        invite = await host.invite(args.homeserver_url)
    finally:
        await host.close()
    print(invite.encode())
    return 0


async def _members(args: argparse.Namespace, folder: Path) -> int:
    host = _host_class().restore(folder)
    try:
        members = await host.members()
    finally:
        await host.close()
    rows = [
        {
            "user_id": member.user_id,
            "membership": member.membership,
            "hub_name": member.record.hub_name if member.record else None,
            "identity_key": member.record.identity_key if member.record else None,
        }
        for member in members
    ]
    if args.json:
        print(json.dumps({"members": rows}, indent=2))
    else:
        for row in rows:
            hub = f"  hub {row['hub_name']!r} key {row['identity_key']}" if row["hub_name"] else ""
            print(f"{row['user_id']}  {row['membership']}{hub}")
    return 0


async def _remove(args: argparse.Namespace, folder: Path) -> int:
    host = _host_class().restore(folder)
    try:
        await host.remove(args.user_id, args.reason)
    finally:
        await host.close()
    print(f"removed {args.user_id}")
    return 0
