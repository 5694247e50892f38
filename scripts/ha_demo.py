"""Run Home Assistant with the Doorward integration connected to a running hub.

Usage (from the repository root, inside the project's virtual environment):

    scripts/toolchain run python scripts/ha_demo.py --hub-url http://127.0.0.1:8470 \\
        --pairing-code ABCD-EFGH [--config-dir .demo/ha-config] [--port 8123] \\
        [--user doorward] [--password doorward] [--ready-file PATH] [--stop-after-setup]

What it does:

1. Prepares a Home Assistant config folder (default `.demo/ha-config`, gitignored): a
   `configuration.yaml` with the parts of `default_config` that run offline (no `cloud`, no
   `homeassistant_alerts`, no analytics reporting; an integration whose Python packages the
   venv lacks is left out and named in a comment), onboarding marked complete, an owner user
   (default `doorward` / `doorward`), a link to this repository's `custom_components/doorward`
   and a copy of `blueprints/automation/doorward` (Home Assistant does not look into symlinked
   blueprint folders). The HTTP server's settings (127.0.0.1 only, `--port`) go into Home
   Assistant's HTTP store, `.storage/http`, as its confirmed ("stable") configuration: an
   `http:` block in `configuration.yaml` is only a trial there, reverted after five minutes
   (Home Assistant then restarts and listens on every address). A `configuration.yaml` this
   script wrote is rewritten on every run; one written by hand is kept.
2. Starts Home Assistant: `python -m homeassistant -c <dir> --skip-pip` (never installs
   packages), serving http://127.0.0.1:<port>; its console output goes to
   `<dir>/console.log` (its log proper is `<dir>/home-assistant.log`).
3. Logs in as the owner through Home Assistant's auth API and adds the hub through the
   integration's real config flow over Home Assistant's REST API (address from `--hub-url`,
   then `--pairing-code`), unless an entry for this hub is already loaded.
4. Writes `--ready-file` (JSON: url, user, password, doorbell entities), prints the URL, user
   and password; then keeps running until Ctrl-C (or SIGTERM), which stops Home Assistant.
   `--stop-after-setup` stops it right after step 3 instead (a smoke test).
   With `--invite-file`, step 3 also joins the hub to the group of the invite in that file (it
   waits for the file) through the integration's options flow, as a person pasting the invite
   would (unless the hub is in a group already).

Nothing here reaches the internet: pip is skipped, and the integrations that phone home are
left out. (Home Assistant always loads its `brands` integration, which fetches brand images
from brands.home-assistant.io when a browser asks for one; Doorward's own brand is served from
the integration's folder.)

Requirements: the venv must have `home-assistant-frontend` (the version homeassistant pins):
without it Home Assistant starts in recovery mode, without any integration, so the script
stops with a message naming the package. scripts/toolchain installs it with the rest.
"""

import argparse
import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import ifaddr
from homeassistant import components, runner
from homeassistant.auth import auth_manager_from_config
from homeassistant.auth.const import GROUP_ID_ADMIN
from homeassistant.auth.providers.homeassistant import HassAuthProvider, InvalidUser
from homeassistant.components.http.config import HTTP_STORAGE_SCHEMA, STORAGE_MINOR_VERSION
from homeassistant.components.http.config import STORAGE_VERSION as HTTP_STORAGE_VERSION
from homeassistant.config_entries import ConfigEntries
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from packaging.requirements import Requirement
from yarl import URL

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_DIR = REPO / ".demo" / "ha-config"
DOMAIN = "doorward"
# How long to wait for the demo's group invite: a first run installs and configures Synapse and
# makes the group meanwhile, which takes minutes on a loaded machine.
INVITE_TIMEOUT = 900.0
# The first line of a configuration.yaml this script wrote (and may rewrite).
CONFIGURATION_HEADER = "# Written by scripts/ha_demo.py for the Doorward demo."

# default_config's parts that work offline, plus what the demo needs; each is used only if the
# Python packages it (and what it depends on) requires are installed.
INTEGRATIONS = [
    "api",
    "assist_pipeline",
    "automation: !include automations.yaml",
    "backup",
    "blueprint",
    "config",
    "conversation",
    "counter",
    "device_automation",
    "dhcp",
    "diagnostics",
    "energy",
    "file",
    "file_upload",
    "history",
    "image_upload",
    "input_boolean",
    "input_button",
    "input_datetime",
    "input_number",
    "input_select",
    "input_text",
    "lovelace",
    "media_source",
    "mobile_app",
    "onboarding",
    "person",
    "recorder",
    "repairs",
    "scene: !include scenes.yaml",
    "schedule",
    "script: !include scripts.yaml",
    "search",
    "ssdp",
    "stream",
    "sun",
    "system_health",
    "tag",
    "timer",
    "usage_prediction",
    "usb",
    "webhook",
    "zeroconf",
    "zone",
    "frontend",
    "logbook",
    "my",
]
# Left out of default_config whatever is installed: they reach the internet, need hardware or
# helper programs the demo does not have, or are not needed.
LEFT_OUT = (
    "cloud, homeassistant_alerts (they work only with the internet); bluetooth (needs a "
    "Bluetooth adapter and BlueZ); go2rtc (needs the go2rtc program, which is not a Python "
    "package; Home Assistant's own stream integration plays the doorbells' video)"
)
FRONTEND_REQUIREMENT = "home-assistant-frontend"
# Packages checked by their module rather than their distribution.
IMPORT_NAMES = {FRONTEND_REQUIREMENT: "hass_frontend"}


def log(message: str) -> None:
    print(f"ha_demo: {message}", flush=True)


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def missing_requirements(domain: str, seen: set[str] | None = None) -> set[str]:
    """The Python packages an integration and its dependencies need that are not installed."""
    seen = set() if seen is None else seen
    if domain in seen:
        return set()
    seen.add(domain)
    manifest_path = Path(components.__path__[0]) / domain / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    missing = set()
    for requirement in manifest.get("requirements", []):
        name = Requirement(requirement).name
        if has_module(IMPORT_NAMES.get(name, "-")):
            continue
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.add(requirement)
    # After-dependencies too: one that is loaded but failed makes the integration fail.
    for dependency in manifest.get("dependencies", []) + manifest.get("after_dependencies", []):
        if dependency not in ("cloud", "hassio"):  # never loaded here
            missing |= missing_requirements(dependency, seen)
    return missing


def write_configuration(config_dir: Path, port: int) -> None:
    """`configuration.yaml` (kept if written by hand) and the files it includes."""
    configuration = config_dir / "configuration.yaml"
    if configuration.exists() and not configuration.read_text(encoding="utf-8").startswith(
        CONFIGURATION_HEADER
    ):
        log(f"keeping {configuration} (not written by this script)")
    else:
        usable, unusable = [], []
        for entry in INTEGRATIONS:
            domain = entry.split(":")[0]
            if missing := missing_requirements(domain):
                unusable.append(f"{domain} ({', '.join(sorted(missing))})")
            else:
                usable.append(entry if ":" in entry else f"{entry}:")
        if unusable:
            log(f"left out, their packages are not installed: {'; '.join(unusable)}")
        lines = [
            CONFIGURATION_HEADER,
            "# Rewritten on every run; remove the first line to keep your own changes.",
            "# The HTTP server (127.0.0.1 only) is configured in .storage/http.",
            "homeassistant:",
            "  name: Doorward demo",
            "  latitude: 52.3731",
            "  longitude: 4.8922",
            "  elevation: 0",
            "  unit_system: metric",
            "  time_zone: UTC",
            "  country: NL",
            "  currency: EUR",
            "  language: en",
            f"  internal_url: http://127.0.0.1:{port}",
            "",
            "logger:",
            "  default: warning",
            "  logs:",
            "    custom_components.doorward: info",
            "",
            f"# default_config without: {LEFT_OUT}",
            *(f"# left out, packages not installed: {entry}" for entry in unusable),
            *usable,
        ]
        configuration.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in ("automations.yaml", "scripts.yaml", "scenes.yaml"):
        included = config_dir / name
        if not included.exists():
            included.write_text("[]\n" if name != "scripts.yaml" else "{}\n", encoding="utf-8")


def write_http_store(config_dir: Path, port: int) -> None:
    """Home Assistant's HTTP settings: 127.0.0.1 only, on `port`, confirmed (no trial, no YAML).

    Written on every run, so an older demo folder (whose `http:` YAML block was migrated as a
    trial) is brought back to loopback too.
    """
    path = config_dir / ".storage" / "http"
    stable = {
        **HTTP_STORAGE_SCHEMA({"server_host": ["127.0.0.1"], "server_port": port}),
        "created_at": "2026-01-01T00:00:00+00:00",
        "error": None,
        "error_message": None,
    }
    data = {"stable": stable, "pending": None, "yaml_migration_done": True}
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
        if json.loads(path.read_text(encoding="utf-8"))["data"] == data:
            return
    document = {
        "version": HTTP_STORAGE_VERSION,
        "minor_version": STORAGE_MINOR_VERSION,
        "key": "http",
        "data": data,
    }
    write_private(path, json.dumps(document, indent=2))


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable only by this user (Home Assistant's stores hold secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def copy_folder(source: Path, destination: Path) -> None:
    """Make `destination` a real folder with `source`'s files (replacing a link or older copy)."""
    if destination.is_symlink():
        destination.unlink()
    elif destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(source, destination)


def link(target: Path, link_path: Path) -> None:
    """Make `link_path` a symlink to `target` (replacing an older link)."""
    link_path.parent.mkdir(parents=True, exist_ok=True)
    if link_path.is_symlink() or link_path.exists():
        if link_path.is_symlink() and link_path.resolve() == target.resolve():
            return
        link_path.unlink()
    link_path.symlink_to(target, target_is_directory=True)


def write_store(config_dir: Path, key: str, version: int, data: dict[str, Any]) -> None:
    """A `.storage` file in Home Assistant's format (only if it does not exist)."""
    path = config_dir / ".storage" / key
    if path.exists():
        return
    document = {"version": version, "minor_version": 1, "key": key, "data": data}
    write_private(path, json.dumps(document, indent=2))


async def ensure_owner(config_dir: Path, username: str, password: str) -> None:
    """The owner user with a Home Assistant (username/password) login."""
    # As Home Assistant's own `--script auth` does: the auth store needs the registries.
    hass = HomeAssistant(str(config_dir))
    hass.config_entries = ConfigEntries(hass, {})
    await hass.config_entries.async_initialize()
    dr.async_setup(hass)
    await asyncio.gather(dr.async_load(hass), er.async_load(hass))
    hass.auth = await auth_manager_from_config(hass, [{"type": "homeassistant"}], [])
    provider = hass.auth.auth_providers[0]
    assert isinstance(provider, HassAuthProvider)
    await provider.async_initialize()
    try:
        await provider.async_add_auth(username, password)
    except InvalidUser:
        await provider.async_change_password(username, password)
    credentials = await provider.async_get_or_create_credentials({"username": username})
    user = await hass.auth.async_get_user_by_credentials(credentials)
    if user is None:
        user = await hass.auth.async_create_user(username, group_ids=[GROUP_ID_ADMIN])
        await hass.auth.async_link_user(user, credentials)
    if not user.is_owner:
        log(f"note: user {username} is not the owner (another user was created first)")
    assert provider.data is not None
    await provider.data.async_save()
    # Stopping writes every store that has a save pending (the users).
    hass.set_state(CoreState.running)
    await hass.async_stop()


def prepare(config_dir: Path, port: int, username: str, password: str) -> None:
    """Set the config folder up: configuration, onboarding done, the owner, loopback mDNS."""
    if not has_module("hass_frontend"):
        # Home Assistant starts in recovery mode (no integrations at all) without its frontend.
        raise SystemExit(
            "ha_demo: Home Assistant cannot run here: the venv lacks the "
            f"{FRONTEND_REQUIREMENT} package (Home Assistant then starts in recovery mode, "
            f"without any integration). Add '{FRONTEND_REQUIREMENT}=="
            f"{frontend_version()}' to requirements.txt."
        )
    config_dir.mkdir(parents=True, exist_ok=True)
    write_configuration(config_dir, port)
    write_http_store(config_dir, port)
    link(REPO / "custom_components" / DOMAIN, config_dir / "custom_components" / DOMAIN)
    # A copy: Home Assistant does not descend into a symlinked blueprint folder.
    copy_folder(
        REPO / "blueprints" / "automation" / DOMAIN,
        config_dir / "blueprints" / "automation" / DOMAIN,
    )
    write_store(
        config_dir, "onboarding", 4, {"done": ["user", "core_config", "analytics", "integration"]}
    )
    write_store(
        config_dir, "core.analytics", 1, {"onboarded": True, "preferences": {}, "uuid": None}
    )
    # mDNS (zeroconf discovery) on the loopback interface only, where the demo's hub and
    # doorbells are: nothing is announced on, or browsed from, the LAN.
    if loopback := loopback_adapter():
        write_store(config_dir, "core.network", 1, {"configured_adapters": [loopback]})
    asyncio.run(ensure_owner(config_dir, username, password), loop_factory=runner.create_event_loop)


def loopback_adapter() -> str | None:
    """The name of the network interface that carries 127.0.0.1 (`lo` on Linux)."""
    for adapter in ifaddr.get_adapters():
        if any(ip.ip == "127.0.0.1" for ip in adapter.ips):
            return str(adapter.name)
    return None


def frontend_version() -> str:
    """The frontend version this Home Assistant release pins."""
    manifest = Path(components.__path__[0]) / "frontend" / "manifest.json"
    for requirement in json.loads(manifest.read_text(encoding="utf-8"))["requirements"]:
        name, _, version = requirement.partition("==")
        if name == FRONTEND_REQUIREMENT:
            return str(version)
    return "<the version homeassistant pins>"


class HomeAssistantApi:
    """The little of Home Assistant's HTTP API the demo needs, as the owner."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.client_id = f"{base}/"
        self.headers: dict[str, str] = {}

    async def wait_until_up(self, process: subprocess.Popen[bytes], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"Home Assistant exited with code {process.returncode}")
            # A page that needs no login: polling /api/ without one would be a failed login
            # attempt each time (a notification, and a ban after a few).
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self.session.get(
                    f"{self.base}/auth/providers", timeout=aiohttp.ClientTimeout(total=2)
                ) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(1)
        raise SystemExit(f"Home Assistant did not answer on {self.base} within {seconds:.0f} s")

    async def login(self, username: str, password: str) -> None:
        flow = await self._post(
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.base}/?auth_callback=1",
            },
        )
        result = await self._post(
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": username, "password": password},
        )
        if result.get("type") != "create_entry":
            raise SystemExit(f"login as {username} failed: {result}")
        async with self.session.post(
            f"{self.base}/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": result["result"],
                "client_id": self.client_id,
            },
        ) as response:
            token = (await response.json())["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(
            f"{self.base}{path}", json=body, headers=self.headers
        ) as response:
            if response.status >= 400:
                raise SystemExit(f"POST {path}: HTTP {response.status} {await response.text()}")
            return await response.json()

    async def get(self, path: str) -> Any:
        async with self.session.get(f"{self.base}{path}", headers=self.headers) as response:
            if response.status >= 400:
                raise SystemExit(f"GET {path}: HTTP {response.status} {await response.text()}")
            return await response.json()

    async def delete(self, path: str) -> None:
        async with self.session.delete(f"{self.base}{path}", headers=self.headers) as response:
            if response.status >= 400:
                raise SystemExit(f"DELETE {path}: HTTP {response.status}")

    async def wait_until_running(self, seconds: float) -> None:
        """Wait for the end of start-up (stopping earlier is not clean)."""
        deadline = time.monotonic() + seconds
        while (await self.get("/api/config")).get("state") != "RUNNING":
            if time.monotonic() > deadline:
                raise SystemExit(f"Home Assistant did not finish starting in {seconds:.0f} s")
            await asyncio.sleep(1)

    async def add_hub(self, hub_url: URL, pairing_code: str) -> str | None:
        """Run the integration's config flow (user step, then pairing); the entry title.

        None if the hub is set up already.
        """
        flow = await self._post(
            "/api/config/config_entries/flow",
            {"handler": DOMAIN, "show_advanced_options": False},
        )
        flow_path = f"/api/config/config_entries/flow/{flow['flow_id']}"
        result = await self._post(flow_path, {"host": hub_url.host, "port": hub_url.port or 8470})
        if result.get("type") == "abort":
            if result.get("reason") == "already_configured":
                return None
            raise SystemExit(f"adding the hub stopped: {result.get('reason')}")
        if result.get("errors"):
            raise SystemExit(f"the hub at {hub_url} cannot be added: {result['errors']}")
        result = await self._post(flow_path, {"pairing_code": pairing_code})
        if result.get("type") != "create_entry":
            raise SystemExit(f"pairing failed: {result.get('errors') or result}")
        return str(result["title"])

    async def join_group(self, entry_id: str, invite: str) -> bool:
        """Join the hub to a neighborhood group through the integration's options flow.

        False if the hub is in a group already (the flow then offers to leave; it is closed).
        """
        flow = await self._post("/api/config/config_entries/options/flow", {"handler": entry_id})
        flow_path = f"/api/config/config_entries/options/flow/{flow['flow_id']}"
        if flow.get("step_id") != "join":
            await self.delete(flow_path)
            return False
        result = await self._post(flow_path, {"invite": invite})
        if result.get("type") != "create_entry":
            raise SystemExit(f"joining the group failed: {result.get('errors') or result}")
        return True


async def wait_for_invite(path: Path, process: subprocess.Popen[bytes], seconds: float) -> str:
    """The invite in `path`, once something wrote it (the demo makes the group meanwhile)."""
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(path.exists):
        if process.poll() is not None:
            raise SystemExit(f"Home Assistant exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"no invite in {path} after {seconds:.0f} s")
        await asyncio.sleep(0.5)
    return (await asyncio.to_thread(path.read_text, encoding="utf-8")).strip()


async def hub_id_of(session: aiohttp.ClientSession, hub_url: URL) -> str:
    async with session.get(hub_url.with_path("/api/v1/info")) as response:
        return str((await response.json())["hub_id"])


async def connect_hub(args: argparse.Namespace, process: subprocess.Popen[bytes]) -> list[str]:
    """Add the hub to Home Assistant (once); the doorbell event entities."""
    base = f"http://127.0.0.1:{args.port}"
    hub_url = URL(args.hub_url)
    async with aiohttp.ClientSession() as session:
        try:
            hub_id = await hub_id_of(session, hub_url)
        except (aiohttp.ClientError, KeyError, ValueError) as err:
            raise SystemExit(f"no Doorward hub answers at {hub_url}: {err}") from err
        api = HomeAssistantApi(session, base)
        log(f"waiting for Home Assistant on {base}")
        await api.wait_until_up(process, args.startup_timeout)
        await api.login(args.user, args.password)
        await api.wait_until_running(args.startup_timeout)
        # Entries left by an earlier run that do not work (say the hub's data was deleted, so
        # the token is unknown) are removed; the hub is then paired again.
        for entry in await api.get(f"/api/config/config_entries/entry?domain={DOMAIN}"):
            if entry["state"] != "loaded":
                log(f"removing the entry {entry['title']} ({entry['state']}) of an earlier run")
                await api.delete(f"/api/config/config_entries/entry/{entry['entry_id']}")
        title = await api.add_hub(hub_url, args.pairing_code)
        if title is None:
            log(f"the hub {hub_id} is already set up")
        else:
            log(f"added the hub {title} ({hub_id}) through the integration's config flow")
        for _ in range(30):
            states = await api.get("/api/states")
            doorbells = [
                s["entity_id"]
                for s in states
                if s["entity_id"].startswith("event.")
                and s["attributes"].get("device_class") == "doorbell"
            ]
            if doorbells:
                break
            await asyncio.sleep(1)
        log(f"doorbell event entities: {', '.join(sorted(doorbells)) or 'none yet'}")
        if args.invite_file:
            invite = await wait_for_invite(args.invite_file, process, INVITE_TIMEOUT)
            entries = await api.get(f"/api/config/config_entries/entry?domain={DOMAIN}")
            entry_id = next(
                e["entry_id"]
                for e in entries
                if e["state"] == "loaded" and e.get("unique_id", hub_id) == hub_id
            )
            if await api.join_group(entry_id, invite):
                log("joined the hub to the neighborhood group through the options flow")
            else:
                log("the hub is in a neighborhood group already")
        return sorted(doorbells)


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Run Home Assistant with the Doorward integration connected to a hub."
    )
    parser.add_argument("--hub-url", required=True, help="the hub, e.g. http://127.0.0.1:8470")
    parser.add_argument("--pairing-code", required=True, help="a one-time code of the hub")
    parser.add_argument("--config-dir", type=Path, default=DEFAULT_CONFIG_DIR)
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant's HTTP port")
    parser.add_argument("--user", default="doorward", help="the owner's username")
    parser.add_argument("--password", default="doorward", help="the owner's password")
    parser.add_argument(
        "--invite-file",
        type=Path,
        help="join the hub to the neighborhood group of the invite in this file (the options "
        "flow) once added; waits for the file",
    )
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument(
        "--ready-file",
        type=Path,
        help="write JSON (url, user, password, doorbells) here once the hub is set up",
    )
    parser.add_argument(
        "--stop-after-setup",
        action="store_true",
        help="stop Home Assistant once the hub is added (a smoke test)",
    )
    args = parser.parse_args()
    config_dir: Path = args.config_dir.resolve()

    prepare(config_dir, args.port, args.user, args.password)
    command = [sys.executable, "-m", "homeassistant", "-c", str(config_dir), "--skip-pip"]
    log(f"starting Home Assistant: {' '.join(command)}")
    log(f"its log: {config_dir / 'home-assistant.log'}")
    with (config_dir / "console.log").open("ab") as console:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter
            command, cwd=REPO, stdout=console, stderr=subprocess.STDOUT
        )

    def stop(*_: object) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        doorbells = asyncio.run(connect_hub(args, process))
        url = f"http://127.0.0.1:{args.port}"
        if args.ready_file is not None:
            ready = {"url": url, "user": args.user, "password": args.password}
            write_private(args.ready_file, json.dumps({**ready, "doorbells": doorbells}))
        else:
            print(
                f"\nHome Assistant: {url}  user: {args.user}  password: {args.password}\n"
                f"config folder: {config_dir}\n",
                flush=True,
            )
        if args.stop_after_setup:
            stop()
        return process.wait()
    except KeyboardInterrupt:
        stop()
        return process.wait()
    except BaseException:
        stop()
        process.wait()
        raise
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
        if process.poll() is None:
            process.kill()


if __name__ == "__main__":
    sys.exit(main())
