"""The demo's neighborhood: a homeserver, a group, invites, and a neighbor household that shares.

Used by `scripts/demo.py`. Each step is what a person would do, done the way the README tells
them: Synapse through `scripts/synapse` (install, init, register, start), the group through
`doorward-hub group create` and `group invite` on a group host's data folder, the neighbor's hub
through its API (pair, home location, join, share). The neighbor household's hub and doorbells run
on a LAN of their own (`demo_lan.py`), as a neighbor's would.

What it keeps lives in `<demo>/neighborhood/` (owner-only; `state.json` holds the group admin's
password and the neighbor hub's client token): a re-run reuses the homeserver, the group, the
accounts and the neighbor's hub, and shares nothing again (one share is one person's decision).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import synapse
from demo_lan import Bridge

REPO = Path(__file__).resolve().parent.parent
SYNAPSE = [sys.executable, str(REPO / "scripts" / "synapse.py")]
HUB = [sys.executable, "-m", "doorward_hub"]
LOOPBACK = "127.0.0.1"
SERVER_NAME = "street.test"
GROUP_NAME = "Demo Street"
ADMIN_USER = "groupadmin"
# The neighbor's home, about 400 m from the demo Home Assistant's (52.3731, 4.8922): it becomes a
# coarse H3 cell on the neighbor's hub and never leaves it.
NEIGHBOR_HOME = {"latitude": 52.3760, "longitude": 4.8950}
SHARE_MESSAGE = "Parcel delivered at the neighbor's door (shared from the Doorward demo)"
RING_AGAIN_SECONDS = 45.0
"""A press's clip (pre-roll, visit, post-roll) is listed well within this; none by then: ring
again."""

type Say = Callable[[str], None]


def _private_write(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")


def _http(method: str, url: str, body: object = None, token: str | None = None) -> Any:
    """JSON over HTTP to our own loopback services; raises RuntimeError with the reply."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=180) as response:  # noqa: S310 - loopback
            raw = response.read()
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"{method} {url}: HTTP {err.code} {err.read().decode()}") from err
    return json.loads(raw) if raw else None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def invite_username(invite: str) -> str:
    """The account name an invite reserves (see docs/groups.md, "Invites")."""
    encoded = invite.removeprefix("doorward-invite:")
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return str(payload["username"])


@dataclass
class NeighborhoodDemo:
    """The homeserver, the group host, and the neighbor household, under `<demo>/neighborhood`."""

    demo: Path
    logs: Path
    say: Say
    synapse_port: int = 8008
    neighbor_hub_port: int = 8471
    neighbor_doorbell_port: int = 8481
    neighbor_doorbells: int = 1
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    bridge: Bridge | None = None
    state: dict[str, Any] = field(default_factory=dict)
    invite_for_you: str = ""
    shared_now: bool = False

    @property
    def folder(self) -> Path:
        """Everything the neighborhood part keeps."""
        return self.demo / "neighborhood"

    @property
    def homeserver_url(self) -> str:
        """The homeserver's client API."""
        return f"http://{LOOPBACK}:{self.synapse_port}"

    @property
    def neighbor_hub_url(self) -> str:
        """The neighbor's hub API, as reached from the demo's side."""
        return f"http://{LOOPBACK}:{self.neighbor_hub_port}"

    @property
    def neighbor_doorbell_urls(self) -> list[str]:
        """The neighbor's doorbells, as reached from the demo's side."""
        return [
            f"http://{LOOPBACK}:{self.neighbor_doorbell_port + n}"
            for n in range(self.neighbor_doorbells)
        ]

    # --- state -------------------------------------------------------------------------------

    def _load_state(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        try:
            self.state = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.state = {}

    def _save_state(self) -> None:
        _private_write(self.folder / "state.json", json.dumps(self.state, indent=2) + "\n")

    # --- the homeserver ----------------------------------------------------------------------

    def start_group(self) -> None:
        """The homeserver running, the group made (first run), this run's invites."""
        self.start_homeserver()
        self.create_group()

    def start_homeserver(self) -> None:
        """Install (first run), configure (first run) and start Synapse; the group admin account."""
        self._load_state()
        synapse_dir = self.folder / "synapse"
        if not synapse.installed():
            self.say(
                "installing Synapse (the Matrix homeserver) into its own virtual environment: "
                "`scripts/synapse install`; first run only, a few minutes"
            )
            self._run([*SYNAPSE, "install"], "installing Synapse", "synapse-install.log")
        if not (synapse_dir / "endpoint.json").exists():
            self.say(f"configuring a homeserver for {SERVER_NAME} in {synapse_dir}")
            self._run(
                [*SYNAPSE, "init", str(synapse_dir), "--server-name", SERVER_NAME,
                 "--port", str(self.synapse_port)],
                "configuring Synapse",
                "synapse.log",
            )  # fmt: skip
        self.say(f"starting Synapse on {self.homeserver_url} (log: {self.logs / 'synapse.log'})")
        with (self.logs / "synapse.log").open("ab") as log:
            server = subprocess.Popen(  # noqa: S603 - our own script
                [*SYNAPSE, "start", str(synapse_dir)], stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append(server)
        self._wait(
            lambda: _answers(f"{self.homeserver_url}/health"),
            "Synapse",
            server,
            120,
            "synapse.log",
        )
        if "admin_password" not in self.state:
            password = secrets.token_urlsafe(18)
            self._run(
                [*SYNAPSE, "register", str(synapse_dir), ADMIN_USER, password, "--admin"],
                "registering the group admin",
                "synapse.log",
            )
            self.state["admin_password"] = password
            self._save_state()
            self.say(f"registered the group admin @{ADMIN_USER}:{SERVER_NAME} (server admin)")

    # --- the group ---------------------------------------------------------------------------

    def _group(self, *args: str) -> str:
        command = [*HUB, "group", *args, "--data-dir", str(self.folder / "group-host")]
        return self._run(command, f"doorward-hub group {args[0]}", "group-host.log")

    def create_group(self) -> None:
        """`group create` once; the invites of this run (the demo hub's, the neighbor's, yours)."""
        if not self.state.get("space_id"):
            password_file = self.folder / "admin-password"
            _private_write(password_file, self.state["admin_password"])
            try:
                out = self._group(
                    "create", "--homeserver", self.homeserver_url, "--user", ADMIN_USER,
                    "--password-file", str(password_file), "--name", GROUP_NAME,
                )  # fmt: skip
            finally:
                password_file.unlink(missing_ok=True)
            self.state["space_id"] = out.split("space ", 1)[1].split()[0]
            self._save_state()
            self.say(f"created the group {GROUP_NAME!r} (space {self.state['space_id']})")
        else:
            self.say(
                f"the group {GROUP_NAME!r} exists (space {self.state['space_id']}); reusing it"
            )
        pending = {
            member["user_id"].split(":")[0].lstrip("@")
            for member in json.loads(self._group("members", "--json"))["members"]
            if member["membership"] == "invite"
        }
        for who in ("demo_hub", "neighbor_hub", "you"):
            key = f"invite_{who}"
            if who == "you" and self.state.get(key) and invite_username(self.state[key]) in pending:
                continue  # your invite of an earlier run is still unused: the same one
            if who != "you" and self.state.get(key):
                continue
            self.state[key] = self._group("invite").strip().splitlines()[-1]
            self._save_state()
        self.invite_for_you = self.state["invite_you"]
        _private_write(self.demo_hub_invite_file, self.state["invite_demo_hub"])

    @property
    def demo_hub_invite_file(self) -> Path:
        """The invite the demo Home Assistant pastes into its options flow for the demo hub.

        Written once the group exists (Home Assistant starts meanwhile and waits for it).
        """
        return self.folder / "demo-hub-invite"

    # --- the neighbor household --------------------------------------------------------------

    def start_neighbor(self) -> None:
        """The neighbor's hub and doorbells on their own LAN; pair a client; join the group."""
        sockets = self.folder / "lan"
        sockets.mkdir(exist_ok=True)
        sockets.chmod(0o700)
        data = self.folder / "neighbor-hub"
        config = self.folder / "neighbor-hub.yaml"
        config.write_text(
            f"name: Neighbor hub\ndata_dir: {data}\nhost: {LOOPBACK}\n"
            f"port: {self.neighbor_hub_port}\nzeroconf_interfaces: [{LOOPBACK}]\n",
            encoding="utf-8",
        )
        ids = self.state.setdefault(
            "neighbor_doorbells",
            [f"neighbor-{secrets.token_hex(3)}-{n + 1}" for n in range(self.neighbor_doorbells)],
        )
        self._save_state()
        inward = [self.neighbor_hub_port] + [
            self.neighbor_doorbell_port + n for n in range(self.neighbor_doorbells)
        ]
        self.bridge = Bridge(sockets, outward=[self.synapse_port], inward=inward)
        self.bridge.start()
        self.say(
            "starting the neighbor household on a LAN of its own: its hub "
            f"({self.neighbor_hub_url}) and {self.neighbor_doorbells} simulated doorbell(s) (logs: "
            f"{self.logs / 'neighbor-hub.log'}, {self.logs / 'neighbor-doorbells.log'})"
        )
        inside = [
            "unshare", "--net", "--", sys.executable, "-c",
            "import os, subprocess, sys; subprocess.run(['ip', 'link', 'set', 'lo', 'up'], "
            "check=True); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
            str(REPO / "scripts" / "demo_lan.py"), "inside", "--sockets", str(sockets),
            "--outward", str(self.synapse_port),
            *(arg for port in inward for arg in ("--inward", str(port))),
            "--hub-log", str(self.logs / "neighbor-hub.log"),
            "--doorbells-log", str(self.logs / "neighbor-doorbells.log"),
            "--", *HUB, "serve", "--config", str(config),
            "--", *HUB, "simulate", "--doorbells", str(self.neighbor_doorbells),
            "--base-port", str(self.neighbor_doorbell_port),
            *(arg for i in ids for arg in ("--device-id", i)),
        ]  # fmt: skip
        with (self.logs / "neighbor-lan.log").open("ab") as log:
            lan = subprocess.Popen(inside, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self.processes.append(lan)
        self._wait(
            lambda: _answers(f"{self.neighbor_hub_url}/api/v1/info"),
            "the neighbor's hub",
            lan,
            60,
            "neighbor-hub.log",
        )
        token = self.state.get("neighbor_token")
        if token is None or not self._token_works(token):
            code = (data / "pairing-code").read_text(encoding="utf-8").strip()
            paired = _http(
                "POST",
                f"{self.neighbor_hub_url}/api/v1/pair",
                {"code": code, "client_name": "the neighbor (demo script)"},
            )
            self.state["neighbor_token"] = paired["token"]
            self._save_state()
        status = self._neighbor("GET", "/neighborhood")
        if status.get("joined"):
            self.say("the neighbor's hub is in the group already")
            return
        self._neighbor("PUT", "/neighborhood/home", NEIGHBOR_HOME)
        self.say("the neighbor's hub joins the group with its invite (as its owner's app would)")
        self._neighbor("POST", "/neighborhood/join", {"invite": self.state["invite_neighbor_hub"]})

    def _token_works(self, token: str) -> bool:
        try:
            _http("GET", f"{self.neighbor_hub_url}/api/v1/neighborhood", token=token)
        except RuntimeError:
            return False
        return True

    def _neighbor(self, method: str, path: str, body: object = None) -> Any:
        url = f"{self.neighbor_hub_url}/api/v1{path}"
        return _http(method, url, body, self.state["neighbor_token"])

    def share_once(self) -> None:
        """First run: the neighbor presses their doorbell and shares the clip (two human acts).

        The demo script stands in for that person and says so. A re-run shares nothing.
        """
        if self.state.get("shared_clip"):
            self.say(
                f"the neighbor shared clip {self.state['shared_clip']} on the first run; a re-run "
                "shares nothing again (one share is one person's decision)"
            )
            return
        doorbell = self.neighbor_doorbell_urls[0]
        self.say(f"standing in for the neighbor: pressing their doorbell ({doorbell})")
        known = {clip["id"] for clip in self._neighbor("GET", "/clips")["clips"]}
        deadline = time.monotonic() + 180
        clip = None
        pressed_at = -RING_AGAIN_SECONDS
        while clip is None:
            # A press before the hub has the doorbell's video makes no clip (nothing to record):
            # like a visitor, ring again after a while until one is recorded.
            if time.monotonic() - pressed_at >= RING_AGAIN_SECONDS:
                ring = [*HUB, "press", doorbell]
                self._run(ring, "pressing the neighbor's doorbell", "neighbor-hub.log")
                pressed_at = time.monotonic()
            fresh = [c for c in self._neighbor("GET", "/clips")["clips"] if c["id"] not in known]
            clip = fresh[0] if fresh else None
            if clip is None:
                if time.monotonic() > deadline:
                    raise SystemExit("demo: the neighbor's hub recorded no clip within 180 s")
                time.sleep(1)
        self.say(
            f"standing in for the neighbor: sharing clip {clip['id']} with {GROUP_NAME!r} "
            "(one hub API call = one person's decision about one clip)"
        )
        shared = self._neighbor("POST", f"/clips/{clip['id']}/share", {"message": SHARE_MESSAGE})
        self.state["shared_clip"] = clip["id"]
        self.state["shared_event"] = shared["event_id"]
        self._save_state()
        self.shared_now = True

    # --- helpers -----------------------------------------------------------------------------

    def _run(self, command: list[str], what: str, log: str) -> str:
        result = subprocess.run(  # noqa: S603 - our own commands
            command, capture_output=True, text=True, check=False, env=os.environ.copy()
        )
        with (self.logs / log).open("a", encoding="utf-8") as out:
            out.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise SystemExit(f"demo: {what} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def _wait(
        self,
        check: Callable[[], bool],
        what: str,
        process: subprocess.Popen[bytes],
        timeout: float,
        log: str,
    ) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if process.poll() is not None:
                raise SystemExit(f"demo: {what} exited; see {self.logs / log}")
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"demo: {what} did not come up in {timeout:.0f} s; see {self.logs / log}"
                )
            time.sleep(0.3)

    def named_processes(self) -> list[tuple[str, subprocess.Popen[bytes]]]:
        """What runs (Synapse, the neighbor's LAN), named for the console."""
        return list(zip(("Synapse", "the neighbor's LAN"), self.processes, strict=False))

    def stop(self) -> None:
        """Stop the neighbor's LAN, then Synapse: one after the other, so the neighbor's hub
        signs off while its homeserver still answers."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.bridge is not None:
            self.bridge.stop()

    def summary(self) -> list[str]:
        """The neighborhood lines of the console's closing block."""
        return [
            f"homeserver:      {self.homeserver_url}  (Synapse, server {SERVER_NAME}; "
            f"group admin @{ADMIN_USER}, password in {self.folder / 'state.json'})",
            f"group:           {GROUP_NAME!r}  space {self.state['space_id']}  (members: "
            f"scripts/toolchain run doorward-hub group members --data-dir "
            f"{self.folder / 'group-host'})",
            f"neighbor's hub:  {self.neighbor_hub_url}  (on its own LAN; shared clip "
            f"{self.state.get('shared_clip')}; the demo hub got the post: Home Assistant's "
            "'Neighbor post' event)",
            f"  press theirs:  scripts/toolchain run doorward-hub press "
            f"{self.neighbor_doorbell_urls[0]}",
            "an invite to try joining by hand (Doorward > Configure, after leaving the group "
            "there; single use, 7 days):",
            f"  {self.invite_for_you}",
        ]
