"""The main job: a hub, simulated doorbells and Home Assistant with the integration, on loopback.

Run through `scripts/demo` (which provides the toolchain). Everything it keeps lives in `.demo/`
in the repository (git ignores it; `--dir` picks another folder); delete that folder to start
from scratch. A new run reuses it: the same hub, the same doorbells (their ids are kept in
`doorbells.json`), the same Home Assistant. Logs go to `logs/` and `ha-config/home-assistant.log`
there, so the console shows progress and, once everything is ready, one block that says where to
look. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demo_neighborhood import NeighborhoodDemo

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
HUB_COMMAND = [sys.executable, "-m", "doorward_hub"]


def say(message: str) -> None:
    """A progress line on the console."""
    print(f"demo: {message}", flush=True)


def wait_until(
    check: Callable[[], bool],
    what: str,
    process: subprocess.Popen[bytes],
    timeout: float,
    log_file: Path,
) -> None:
    """Poll `check()` until it is true, saying every 15 s that it is still waiting.

    Stops the demo, with the end of `log_file`, if `process` dies or time runs out.
    """
    start = time.monotonic()
    said = start
    while not check():
        now = time.monotonic()
        if process.poll() is not None:
            problem = f"{what} exited with code {process.returncode}"
            raise SystemExit(f"demo: {problem}\n{tail(log_file)}")
        if now - start > timeout:
            problem = f"{what} did not come up within {timeout:.0f} s"
            raise SystemExit(f"demo: {problem}\n{tail(log_file)}")
        if now - said >= 15:
            say(f"still waiting for {what} ({now - start:.0f} s)")
            said = now
        time.sleep(0.2)


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, to explain a failure."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return f"--- end of {path}:\n" + "\n".join(text)


def answers(url: str) -> bool:
    """True if `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def doorbell_ids(demo: Path, count: int) -> list[str]:
    """The simulated doorbells' ids, made once and kept in `doorbells.json`.

    The same ids on every run keep Home Assistant's devices, entity ids and media folders.
    """
    path = demo / "doorbells.json"
    try:
        ids = [str(i) for i in json.loads(path.read_text(encoding="utf-8"))["ids"]]
    except (OSError, ValueError, KeyError, TypeError):
        ids = []
    if len(ids) < count:
        prefix = ids[0].rsplit("-", 1)[0] if ids else f"sim-{secrets.token_hex(3)}"
        ids += [f"{prefix}-{n}" for n in range(len(ids) + 1, count + 1)]
        path.write_text(json.dumps({"ids": ids}, indent=2) + "\n", encoding="utf-8")
    return ids[:count]


async def _neighbor_post_state(home_assistant: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Home Assistant's `neighbor_post` event entity once it has fired (its state), else {}.

    The entity is found by its event type, not its entity id (a device move would change that).
    """
    import aiohttp  # noqa: PLC0415 - only with Home Assistant
    from ha_demo import HomeAssistantApi  # noqa: PLC0415 - loads Home Assistant's modules

    async with aiohttp.ClientSession() as session:
        api = HomeAssistantApi(session, home_assistant["url"])
        await api.login(home_assistant["user"], home_assistant["password"])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for state in await api.get("/api/states"):
                attributes = state["attributes"]
                if (
                    state["entity_id"].startswith("event.")
                    and "neighbor_post" in attributes.get("event_types", [])
                    and attributes.get("event_type") == "neighbor_post"
                ):
                    return dict(state)
            await asyncio.sleep(1)
    return {}


def show_neighbor_post(
    neighborhood: NeighborhoodDemo, home_assistant: dict[str, Any] | None, logs: Path
) -> None:
    """The neighbor shares (first run only); then wait until Home Assistant shows the post."""
    neighborhood.share_once()
    if home_assistant is None:
        return
    post = asyncio.run(_neighbor_post_state(home_assistant, 180))
    if not post:
        raise SystemExit(
            "demo: Home Assistant shows no neighbor post within 180 s; see "
            f"{logs / 'hub.log'} and {logs / 'neighbor-hub.log'}"
        )
    when = "now" if neighborhood.shared_now else "from an earlier run"
    say(
        f"Home Assistant shows the neighbor's post ({when}): {post['entity_id']} "
        f"fired {post['state']}: {post['attributes'].get('message')!r}"
    )


def summary(
    args: argparse.Namespace,
    *,
    hub_url: str,
    code: str,
    doorbells: list[dict[str, Any]],
    home_assistant: dict[str, Any] | None,
    neighborhood: NeighborhoodDemo | None,
    logs: Path,
) -> str:
    """The console's closing block: where to look, how to log in, how to press."""
    lines = ["", "=" * 72, "Doorward demo is running (Ctrl-C stops it)", ""]
    if home_assistant is not None:
        lines += [
            f"Home Assistant:  {home_assistant['url']}",
            f"  log in as:     {home_assistant['user']} / {home_assistant['password']}",
            "  the hub:       Settings > Devices & services > Doorward",
            "  clips:         Media > Doorward;  blueprints: Settings > Automations > Blueprints",
        ]
    lines += [
        f"hub API:         {hub_url}/api/v1/info  (OpenAPI: {hub_url}/api/v1/openapi.json)",
        f"pairing code:    {code}  (one use, 15 minutes; a new one: "
        f"scripts/toolchain run doorward-hub pairing-code --data-dir {args.dir / 'hub'})",
    ]
    for doorbell in doorbells:
        lines += [
            f"{doorbell['name']}:      {doorbell['url']}  ({doorbell['id']})",
            f"  press it:      scripts/toolchain run doorward-hub press {doorbell['url']}",
        ]
    if neighborhood is not None:
        lines += neighborhood.summary()
    lines += [f"logs:            {logs}/", "=" * 72]
    return "\n".join(lines)


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each (the last started first), then wait for each; kill what does not stop."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def ready(process: subprocess.Popen[bytes], ready_file: Path, logs: Path) -> dict[str, Any]:
    """Wait for `ha_demo.py`'s ready file (Home Assistant set up); its content."""
    wait_until(ready_file.exists, "Home Assistant", process, 600, logs / "home-assistant-setup.log")
    return dict(json.loads(ready_file.read_text(encoding="utf-8")))


def watch(processes: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Return when one of `processes` exits, saying which."""
    while all(process.poll() is None for _, process in processes):
        time.sleep(0.5)
    for name, process in processes:
        if process.returncode is not None:
            print(f"demo: {name} exited with code {process.returncode}", file=sys.stderr)


def neighborhood_of(args: argparse.Namespace, logs: Path) -> NeighborhoodDemo:
    """The homeserver, the group and the neighbor household, as the command line says."""
    return NeighborhoodDemo(
        args.dir,
        logs,
        say,
        synapse_port=args.synapse_port,
        neighbor_hub_port=args.neighbor_hub_port,
        neighbor_doorbell_port=args.neighbor_doorbell_port,
    )


def home_assistant_command(
    args: argparse.Namespace,
    hub_url: str,
    code: str,
    ready_file: Path,
    neighborhood: NeighborhoodDemo | None,
) -> list[str]:
    """`ha_demo.py`: Home Assistant, the hub added (and joined to the group, if there is one)."""
    joining = " and joining it to the group through the integration's options flow"
    config_dir = args.dir / "ha-config"
    say(
        f"starting Home Assistant and adding the hub to it{joining if neighborhood else ''} "
        f"(the first start takes a minute or two; log: {config_dir / 'home-assistant.log'})"
    )
    invite = ["--invite-file", str(neighborhood.demo_hub_invite_file)] if neighborhood else []
    return [sys.executable, str(REPO / "scripts" / "ha_demo.py"), "--hub-url", hub_url,
            "--pairing-code", code, "--port", str(args.ha_port), "--config-dir",
            str(config_dir), "--ready-file", str(ready_file), *invite]  # fmt: skip


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doorbells", type=int, default=2, help="simulated doorbells (default 2)")
    parser.add_argument("--hub-port", type=int, default=8470)
    parser.add_argument("--ha-port", type=int, default=8123, help="Home Assistant's port")
    parser.add_argument(
        "--dir", type=Path, default=REPO / ".demo", help="the demo's state (default .demo)"
    )
    parser.add_argument("--no-home-assistant", action="store_true", help="without Home Assistant")
    parser.add_argument(
        "--no-neighborhood",
        action="store_true",
        help="without the homeserver, the group and the neighbor household",
    )
    parser.add_argument("--synapse-port", type=int, default=8008, help="the homeserver's port")
    parser.add_argument("--neighbor-hub-port", type=int, default=8471)
    parser.add_argument(
        "--neighbor-doorbell-port", type=int, default=8481, help="the neighbor's doorbell's port"
    )
    args = parser.parse_args()
    args.dir = args.dir.resolve()
    return args


def main() -> int:
    """Start everything, print where to look, wait for Ctrl-C, stop everything."""
    started = time.monotonic()
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    demo: Path = args.dir
    logs = demo / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    state_file = demo / "simulator.json"
    ready_file = demo / "home-assistant.json"
    for stale in (state_file, ready_file, demo / "neighborhood" / "demo-hub-invite"):
        stale.unlink(missing_ok=True)
    hub_url = f"http://{LOOPBACK}:{args.hub_port}"
    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(name: str, command: list[str], log_file: Path) -> subprocess.Popen[bytes]:
        with log_file.open("ab") as output:
            process = subprocess.Popen(  # noqa: S603 - our own commands
                command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT
            )
        children.append((name, process))
        return process

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    neighborhood = None if args.no_neighborhood else neighborhood_of(args, logs)
    try:
        say(f"starting the hub on {hub_url} (log: {logs / 'hub.log'})")
        hub = start(
            "the hub",
            [*HUB_COMMAND, "serve", "--data-dir", str(demo / "hub"), "--host", LOOPBACK,
             "--port", str(args.hub_port), "--interface", LOOPBACK, "--name", "Demo hub"],
            logs / "hub.log",
        )  # fmt: skip
        ids = doorbell_ids(demo, args.doorbells)
        say(f"starting {args.doorbells} simulated doorbells (log: {logs / 'doorbells.log'})")
        simulator = start(
            "the simulated doorbells",
            [*HUB_COMMAND, "simulate", "--doorbells", str(args.doorbells), "--interface",
             LOOPBACK, "--state-file", str(state_file),
             *(option for i in ids for option in ("--device-id", i))],
            logs / "doorbells.log",
        )  # fmt: skip
        wait_until(lambda: answers(f"{hub_url}/api/v1/info"), "the hub", hub, 60, logs / "hub.log")
        wait_until(
            state_file.exists, "the simulated doorbells", simulator, 60, logs / "doorbells.log"
        )
        doorbells = json.loads(state_file.read_text())["doorbells"]
        code = (demo / "hub" / "pairing-code").read_text().strip()

        process = (
            None
            if args.no_home_assistant
            else start(
                "Home Assistant",
                home_assistant_command(args, hub_url, code, ready_file, neighborhood),
                logs / "home-assistant-setup.log",
            )
        )
        if neighborhood is not None:
            # Home Assistant's first start takes longest: the group is made meanwhile.
            neighborhood.start_group()
            neighborhood.start_neighbor()
        home_assistant = None if process is None else ready(process, ready_file, logs)
        # If Home Assistant used the first code, the hub wrote its next one: print that.
        code = (demo / "hub" / "pairing-code").read_text().strip()
        if neighborhood is not None:
            show_neighbor_post(neighborhood, home_assistant, logs)
        say(f"everything is up after {time.monotonic() - started:.0f} s")
        print(
            summary(
                args,
                hub_url=hub_url,
                code=code,
                doorbells=doorbells,
                home_assistant=home_assistant,
                neighborhood=neighborhood,
                logs=logs,
            )
        )
        watch([*children, *(neighborhood.named_processes() if neighborhood else [])])
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_all([process for _, process in children])
        if neighborhood is not None:
            neighborhood.stop()
        ready_file.unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
