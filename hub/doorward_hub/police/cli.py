"""Police request commands of `doorward-hub`.

Group role: ``group agency admit|suspend|remove|list`` (the group's admins),
``group moderate`` (the group bot), ``group serve`` (the bot and the public transparency
report) and ``group transparency publish``. Agency role: ``agency join``, ``agency request``,
``agency serve`` (the service with the agency API) and ``agency token add|list|revoke``.
Matrix loads only when one of them runs, so ``--help`` stays light.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .agencies import AgencyAdmin
    from .staff import StaffTokens

type _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
type _Command = Callable[[argparse.Namespace, Path], Awaitable[int]]


def register_group_commands(
    commands: _SubParsers, add_data_flags: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `group agency ...` and `group moderate` under the `group` command."""
    agency = commands.add_parser("agency", help="admit, suspend, remove or list police agencies")
    actions = agency.add_subparsers(dest="agency_command", required=True)
    admit = actions.add_parser("admit", help="admit (or reinstate) an agency")
    add_data_flags(admit)
    admit.add_argument("user_id", help="the agency hub's Matrix id, e.g. @elm-pd:example.org")
    admit.add_argument("--name", required=True, help="the agency's name, e.g. 'Elm PD'")
    admit.add_argument("--jurisdiction", required=True, help="where it has authority")
    admit.set_defaults(func=_run(_admit))
    for verb, text in (("suspend", "stop acting on its requests"), ("remove", "end admission")):
        change = actions.add_parser(verb, help=text)
        add_data_flags(change)
        change.add_argument("user_id", help="the agency's Matrix id")
        change.add_argument("--reason", required=True, help="recorded in the group's state")
        change.set_defaults(func=_run(_suspend if verb == "suspend" else _remove))
    listed = actions.add_parser("list", help="the group's agencies and their status")
    add_data_flags(listed)
    listed.add_argument("--json", action="store_true", help="one JSON document")
    listed.set_defaults(func=_run(_list))

    moderate = commands.add_parser(
        "moderate", help="run the group bot: take down requests that break the group's rules"
    )
    add_data_flags(moderate)
    moderate.add_argument("--once", action="store_true", help="one sync, print the decisions")
    moderate.set_defaults(func=_run(_moderate))

    serve = commands.add_parser(
        "serve", help="run the group bot and serve the public transparency report"
    )
    add_data_flags(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8472, help="port (default 8472; 0 = any)")
    serve.set_defaults(func=_run(_group_serve))

    transparency = commands.add_parser("transparency", help="the group's transparency report")
    reports = transparency.add_subparsers(dest="transparency_command", required=True)
    publish = reports.add_parser(
        "publish", help="publish a month's report in the space and the requests room"
    )
    add_data_flags(publish)
    publish.add_argument("--period", help="the month, e.g. 2026-11 (default: this month)")
    publish.set_defaults(func=_run(_publish))


def register(commands: _SubParsers) -> None:
    """Add the agency role's `agency` command."""
    agency = commands.add_parser(
        "agency", help="police agency role: join a group's requests room, send requests"
    )
    actions = agency.add_subparsers(dest="agency_command", required=True)
    join = actions.add_parser("join", help="log in and join the group that admitted the agency")
    _data_flags(join)
    join.add_argument("--homeserver", required=True, help="the group's homeserver URL")
    join.add_argument("--user", required=True, help="the agency's Matrix user name")
    join.add_argument("--password-file", type=Path, help="file holding the password (default: ask)")
    join.add_argument("--space", required=True, help="the group's space id (from the admins)")
    join.add_argument("--requests-room", required=True, help="the group's requests room id")
    join.set_defaults(func=_run(_join, role="agency"))

    request = actions.add_parser("request", help="send a footage request to the group")
    _data_flags(request)
    request.add_argument("--case-number", required=True)
    request.add_argument("--incident-type", required=True, help="e.g. burglary")
    request.add_argument("--description", required=True)
    request.add_argument("--legal-basis", required=True, choices=("consent", "warrant", "exigent"))
    request.add_argument(
        "--polygon",
        required=True,
        type=_polygon,
        help="the area's corners as 'lat,lng;lat,lng;lat,lng;...' (at least three)",
    )
    request.add_argument("--window-start", required=True, type=_time, help="ISO 8601 with zone")
    request.add_argument("--window-end", required=True, type=_time, help="ISO 8601 with zone")
    request.add_argument(
        "--valid-for-hours", type=int, default=7 * 24, help="households may answer this long"
    )
    request.add_argument("--contact", required=True, help="how households reach the officer")
    request.add_argument(
        "--warrant", type=Path, help="a warrant document (.pdf, .png, .jpg), sent encrypted"
    )
    request.set_defaults(func=_run(_request, role="agency"))

    serve = actions.add_parser(
        "serve", help="run the agency hub: receive answers, keep evidence, serve the agency API"
    )
    _data_flags(serve)
    serve.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8471, help="API port (default 8471; 0 = any)")
    serve.set_defaults(func=_run(_serve, role="agency"))

    token = actions.add_parser("token", help="officers' tokens for the agency API")
    token_actions = token.add_subparsers(dest="token_command", required=True)
    add = token_actions.add_parser("add", help="make a token for an officer (printed once)")
    _data_flags(add)
    add.add_argument("name", help="the officer, e.g. 'Det. Jane Doe #4411'")
    add.set_defaults(func=_run(_token_add, role="agency"))
    listed = token_actions.add_parser("list", help="the officers with a token")
    _data_flags(listed)
    listed.set_defaults(func=_run(_token_list, role="agency"))
    revoke = token_actions.add_parser("revoke", help="revoke a token (takes effect at once)")
    _data_flags(revoke)
    revoke.add_argument("token_id", help="the token's id, as `token list` shows it")
    revoke.set_defaults(func=_run(_token_revoke, role="agency"))


def _data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML configuration file")
    parser.add_argument("--data-dir", help="the hub's data folder")


def _polygon(text: str) -> list[tuple[float, float]]:
    try:
        corners = [tuple(float(part) for part in pair.split(",")) for pair in text.split(";")]
    except ValueError as err:
        raise argparse.ArgumentTypeError("corners must be 'lat,lng' numbers") from err
    if any(len(corner) != 2 for corner in corners) or len(corners) < 3:
        raise argparse.ArgumentTypeError("give at least three 'lat,lng' corners, ';'-separated")
    return [(corner[0], corner[1]) for corner in corners]


def _time(text: str) -> int:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from err
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time zone, e.g. 2026-11-30T14:00+01:00")
    return int(moment.timestamp() * 1000)


def _run(command: _Command, role: str = "group") -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from ..config import load_config  # noqa: PLC0415 - Matrix loads only when needed
        from ..neighborhood.errors import MatrixError  # noqa: PLC0415
        from .area import InvalidArea  # noqa: PLC0415
        from .warrant_documents import InvalidWarrant  # noqa: PLC0415

        config = load_config(args.config, {"data_dir": args.data_dir})
        try:
            return asyncio.run(command(args, Path(config.data_dir)))
        except (MatrixError, InvalidArea, InvalidWarrant, OSError) as err:
            print(f"doorward-hub {role}: {err}", file=sys.stderr)
            return 1

    return run


async def _with_admin(data_dir: Path, action: Callable[[AgencyAdmin], Awaitable[int]]) -> int:
    from ..neighborhood.group_host import GroupHost  # noqa: PLC0415
    from ..neighborhood.layout import host_folder  # noqa: PLC0415
    from .agencies import AgencyAdmin  # noqa: PLC0415

    host = GroupHost.restore(host_folder(data_dir))
    try:
        return await action(AgencyAdmin(host))
    finally:
        await host.close()


async def _admit(args: argparse.Namespace, data_dir: Path) -> int:
    async def admit(admin: AgencyAdmin) -> int:
        record = await admin.admit(args.user_id, args.name, args.jurisdiction)
        group = admin.group
        print(f"admitted {record.user_id} ({record.name}, {record.jurisdiction})")
        print(f"  space: {group.space_id}")
        print(f"  requests room: {group.rooms['requests']}")
        return 0

    return await _with_admin(data_dir, admit)


async def _suspend(args: argparse.Namespace, data_dir: Path) -> int:
    async def suspend(admin: AgencyAdmin) -> int:
        await admin.suspend(args.user_id, args.reason)
        print(f"suspended {args.user_id}")
        return 0

    return await _with_admin(data_dir, suspend)


async def _remove(args: argparse.Namespace, data_dir: Path) -> int:
    async def remove(admin: AgencyAdmin) -> int:
        await admin.remove(args.user_id, args.reason)
        print(f"removed {args.user_id}")
        return 0

    return await _with_admin(data_dir, remove)


async def _list(args: argparse.Namespace, data_dir: Path) -> int:
    async def listing(admin: AgencyAdmin) -> int:
        records = await admin.agencies()
        rows = [{"user_id": r.user_id, **r.to_content()} for r in records]
        if args.json:
            print(json.dumps({"agencies": rows}, indent=2))
        for row in [] if args.json else rows:
            print(f"{row['user_id']}  {row['status']}  {row['name']} ({row['jurisdiction']})")
        return 0

    return await _with_admin(data_dir, listing)


async def _moderate(args: argparse.Namespace, data_dir: Path) -> int:
    from ..audit.log import AuditLog  # noqa: PLC0415
    from ..neighborhood.group_host import GroupHost  # noqa: PLC0415
    from ..neighborhood.layout import host_folder  # noqa: PLC0415
    from .moderation import RequestModerator  # noqa: PLC0415

    host = GroupHost.restore(host_folder(data_dir))
    try:
        bot = RequestModerator(host, await AuditLog.open(data_dir))
        if not args.once:
            await bot.run()
        for decision in await bot.sync_once():
            verdict = "kept" if decision.refusal is None else f"took down ({decision.refusal.code})"
            print(f"{decision.event_id} from {decision.sender}: {verdict}")
    finally:
        await host.close()
    return 0


async def _group_serve(args: argparse.Namespace, data_dir: Path) -> int:
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from aiohttp import web  # noqa: PLC0415

    from ..audit.log import AuditLog  # noqa: PLC0415
    from ..neighborhood.group_host import GroupHost  # noqa: PLC0415
    from ..neighborhood.layout import host_folder  # noqa: PLC0415
    from ..web.transparency.app import TRANSPARENCY_PREFIX, create_app  # noqa: PLC0415
    from .moderation import RequestModerator  # noqa: PLC0415

    os.umask(0o077)
    host = GroupHost.restore(host_folder(data_dir))
    runner: web.AppRunner | None = None
    try:
        bot = RequestModerator(host, await AuditLog.open(data_dir))
        runner = web.AppRunner(create_app(bot.transparency), handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, args.host, args.port).start()
        except OSError as err:
            print(f"doorward-hub group: cannot start: {err}", file=sys.stderr)
            return 1
        port = runner.addresses[0][1]
        print(f"transparency report on http://{args.host}:{port}{TRANSPARENCY_PREFIX}")
        sys.stdout.flush()
        moderating = asyncio.create_task(bot.run())
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
        moderating.cancel()
        await asyncio.gather(moderating, return_exceptions=True)
    finally:
        if runner is not None:
            await runner.cleanup()
        await host.close()
    return 0


async def _publish(args: argparse.Namespace, data_dir: Path) -> int:
    from ..audit.log import AuditLog  # noqa: PLC0415
    from ..neighborhood.group_host import GroupHost  # noqa: PLC0415
    from ..neighborhood.layout import host_folder  # noqa: PLC0415
    from .moderation import RequestModerator  # noqa: PLC0415
    from .transparency import InvalidPeriod, period_bounds, period_of  # noqa: PLC0415

    period = args.period or period_of(int(dt.datetime.now(dt.UTC).timestamp() * 1000))
    try:
        period_bounds(period)
    except InvalidPeriod as err:
        print(f"doorward-hub group: {err}", file=sys.stderr)
        return 2
    host = GroupHost.restore(host_folder(data_dir))
    try:
        bot = RequestModerator(host, await AuditLog.open(data_dir))
        await bot.sync_once()  # count what arrived since the bot last ran
        report = await bot.transparency.publish(period)
    finally:
        await host.close()
    print(report.summary())
    return 0


async def _join(args: argparse.Namespace, data_dir: Path) -> int:
    from ..audit.log import AuditLog  # noqa: PLC0415
    from .agency import AgencyHub  # noqa: PLC0415
    from .evidence import EvidenceStore  # noqa: PLC0415
    from .layout import agency_folder, evidence_folder  # noqa: PLC0415

    if args.password_file:
        password = args.password_file.read_text().strip()
    else:
        password = await asyncio.to_thread(getpass.getpass, f"Password for {args.user}: ")
    audit = await AuditLog.open(data_dir)
    hub = await AgencyHub.join(
        agency_folder(data_dir),
        audit,
        EvidenceStore(evidence_folder(data_dir), audit),
        homeserver=args.homeserver,
        user=args.user,
        password=password,
        space_id=args.space,
        requests_room=args.requests_room,
    )
    try:
        print(f"joined the requests room {args.requests_room} as {hub.membership.client.user_id}")
    finally:
        await hub.close()
    return 0


async def _request(args: argparse.Namespace, data_dir: Path) -> int:
    from ..audit.log import AuditLog  # noqa: PLC0415
    from .agency import AgencyHub, RequestDraft  # noqa: PLC0415
    from .evidence import EvidenceStore  # noqa: PLC0415
    from .layout import agency_folder, evidence_folder  # noqa: PLC0415
    from .warrant_documents import mimetype_of  # noqa: PLC0415
    from .warrants import upload_warrant  # noqa: PLC0415

    audit = await AuditLog.open(data_dir)
    hub = AgencyHub.restore(
        agency_folder(data_dir), audit, EvidenceStore(evidence_folder(data_dir), audit)
    )
    try:
        warrant = None
        if args.warrant is not None:
            data = await asyncio.to_thread(args.warrant.read_bytes)
            name = args.warrant.name
            warrant = await upload_warrant(hub.membership.client, name, mimetype_of(name), data)
        sent = await hub.send_request(
            RequestDraft(
                case_number=args.case_number,
                incident_type=args.incident_type,
                description=args.description,
                legal_basis=args.legal_basis,
                polygon=args.polygon,
                window_start_ms=args.window_start,
                window_end_ms=args.window_end,
                valid_for_s=args.valid_for_hours * 3600,
                contact=args.contact,
                warrant=warrant,
            )
        )
    finally:
        await hub.close()
    request = sent.request
    print(
        f"sent request {request.request_id} (case {request.case_number}): "
        f"{len(request.area_cells)} cells, about {request.area_m2} m², "
        f"{request.window_minutes} minutes; event {sent.event_id}"
    )
    return 0


async def _serve(args: argparse.Namespace, data_dir: Path) -> int:
    import os  # noqa: PLC0415

    from ..web.agency_api.keys import AGENCY_PREFIX  # noqa: PLC0415
    from .agency_service import AgencyService, ServiceOptions  # noqa: PLC0415

    os.umask(0o077)  # evidence and tokens are the agency's alone
    service = AgencyService(data_dir, ServiceOptions(host=args.host, port=args.port))

    def started(running: AgencyService) -> None:
        agency = running.hub.membership.client.user_id
        print(f"agency API of {agency} on http://{args.host}:{running.port}{AGENCY_PREFIX}")
        sys.stdout.flush()

    try:
        await service.run_until_signalled(started)
    except OSError as err:
        print(f"doorward-hub agency: cannot start: {err}", file=sys.stderr)
        return 1
    return 0


def _staff(data_dir: Path) -> StaffTokens:
    from .layout import agency_folder  # noqa: PLC0415
    from .staff import StaffTokens  # noqa: PLC0415

    return StaffTokens(agency_folder(data_dir))


async def _token_add(args: argparse.Namespace, data_dir: Path) -> int:
    token, member = _staff(data_dir).add(args.name)
    print(f"token for {member.name} ({member.token_id}), shown only now:")
    print(token)
    return 0


async def _token_list(args: argparse.Namespace, data_dir: Path) -> int:
    for member in _staff(data_dir).members():
        created = dt.datetime.fromtimestamp(member.created_ms / 1000, dt.UTC)
        print(f"{member.token_id}  {created:%Y-%m-%d %H:%M}Z  {member.name}")
    return 0


async def _token_revoke(args: argparse.Namespace, data_dir: Path) -> int:
    if not _staff(data_dir).revoke(args.token_id):
        print(f"doorward-hub agency: no token {args.token_id!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.token_id}")
    return 0
