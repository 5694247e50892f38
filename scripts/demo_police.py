"""The demo's police agency: admitted by the group, its hub running, one footage request per run.

Used by `scripts/demo.py` once the group exists. Each step is what the people involved would do,
the way docs/police.md tells them:
- the group's admin registers the agency's account and admits it (`group agency admit`);
- the agency's hub joins (`agency join`) and runs as a service (`agency serve`), and an officer
  gets a token for its API (`agency token add`);
- the group's bot runs (`group serve`: it takes down requests that break the group's rules and
  serves the public transparency report);
- once the demo hub has a clip, the officer asks through the agency API for footage of the last
  half hour in a small area around the demo's home. The request reaches Home Assistant as a
  notification and a Repairs item, and only a person answers it: the demo never does.

What it keeps lives in `<demo>/neighborhood/` beside the group's (owner-only `state.json`: the
agency's password and the officer's token); a re-run reuses the account and the agency's hub.
"""

from __future__ import annotations

import secrets
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from demo_neighborhood import (
    ADMIN_USER,
    HUB,
    LOOPBACK,
    SERVER_NAME,
    SYNAPSE,
    NeighborhoodDemo,
    Say,
    answers,
    http_json,
    private_write,
)

AGENCY_USER = "demo-sheriff"
AGENCY_NAME = "Demo County Sheriff"
JURISDICTION = "Demo County"
# The demo Home Assistant's home (ha_demo.py's configuration): the request's area is a square of
# about 450 m by 300 m around it. The agency never learns whose homes are inside.
HOME = (52.3731, 4.8922)
AREA_HALF_SIDE = (0.002, 0.002)
WINDOW = timedelta(minutes=30)


class AgencyDemo:
    """The agency's account, hub and officer, and the group's bot, beside `NeighborhoodDemo`."""

    def __init__(
        self,
        neighborhood: NeighborhoodDemo,
        say: Say,
        *,
        agency_port: int,
        group_port: int,
    ) -> None:
        """Describe the agency; `start()` sets it up and runs it."""
        self.neighborhood = neighborhood
        self.say = say
        self.agency_port = agency_port
        self.group_port = group_port
        self.processes: list[subprocess.Popen[bytes]] = []
        self.case_number = ""

    @property
    def state(self) -> dict[str, Any]:
        """The neighborhood's saved state (the agency's entries are `agency_*`)."""
        return self.neighborhood.state

    @property
    def agency_url(self) -> str:
        """The agency API (for the agency's officers)."""
        return f"http://{LOOPBACK}:{self.agency_port}/api/v1/agency"

    @property
    def transparency_url(self) -> str:
        """The group's public transparency report."""
        return f"http://{LOOPBACK}:{self.group_port}/transparency"

    @property
    def agency_id(self) -> str:
        """The agency's Matrix id."""
        return f"@{AGENCY_USER}:{SERVER_NAME}"

    @property
    def agency_data(self) -> Path:
        """The agency hub's data folder."""
        return self.neighborhood.folder / "agency-hub"

    def start(self) -> None:
        """Account, admission, the agency's hub and officer (first run); start both services."""
        folder = self.neighborhood.folder
        logs = self.neighborhood.logs
        if "agency_password" not in self.state:
            password = secrets.token_urlsafe(18)
            self._run(
                [*SYNAPSE, "register", str(folder / "synapse"), AGENCY_USER, password],
                "registering the agency's account",
            )
            self.state["agency_password"] = password
            self.neighborhood.save_state()
        if "agency_requests_room" not in self.state:
            self.say(
                f"the group's admin (@{ADMIN_USER}) admits {AGENCY_NAME} ({self.agency_id}) "
                "to send footage requests"
            )
            admitted = self._run(
                [*HUB, "group", "agency", "admit", self.agency_id, "--name", AGENCY_NAME,
                 "--jurisdiction", JURISDICTION, "--data-dir", str(folder / "group-host")],
                "admitting the agency",
            )  # fmt: skip
            rooms = dict(
                line.strip().split(": ", 1) for line in admitted.splitlines() if ": " in line
            )
            self.state["agency_space"] = rooms["space"]
            self.state["agency_requests_room"] = rooms["requests room"]
            self.neighborhood.save_state()
        if not self.state.get("agency_joined"):
            password_file = folder / "agency-password"
            private_write(password_file, self.state["agency_password"])
            try:
                self._run(
                    [*HUB, "agency", "join", "--data-dir", str(self.agency_data),
                     "--homeserver", self.neighborhood.homeserver_url, "--user", AGENCY_USER,
                     "--password-file", str(password_file), "--space", self.state["agency_space"],
                     "--requests-room", self.state["agency_requests_room"]],
                    "the agency's hub joining the group's requests room",
                )  # fmt: skip
            finally:
                password_file.unlink(missing_ok=True)
            self.state["agency_joined"] = True
            self.neighborhood.save_state()
        if "agency_token" not in self.state:
            out = self._run(
                [*HUB, "agency", "token", "add", "Demo officer", "--data-dir",
                 str(self.agency_data)],
                "making the officer's token",
            )  # fmt: skip
            self.state["agency_token"] = out.strip().splitlines()[-1].split()[-1]
            self.neighborhood.save_state()
        self.say(
            "starting the group's bot with its public transparency report "
            f"({self.transparency_url}) and {AGENCY_NAME}'s hub ({self.agency_url}) "
            f"(logs: {logs / 'group-bot.log'}, {logs / 'agency-hub.log'})"
        )
        self._serve(
            [*HUB, "group", "serve", "--data-dir", str(folder / "group-host"), "--host", LOOPBACK,
             "--port", str(self.group_port)],
            "group-bot.log",
            f"http://{LOOPBACK}:{self.group_port}/transparency",
            "the group's bot",
        )  # fmt: skip
        self._serve(
            [*HUB, "agency", "serve", "--data-dir", str(self.agency_data), "--host", LOOPBACK,
             "--port", str(self.agency_port)],
            "agency-hub.log",
            f"{self.agency_url}/openapi.json",
            "the agency's hub",
        )  # fmt: skip

    def request_footage(self) -> dict[str, Any]:
        """The officer asks for the last half hour around the demo's home (one request a run)."""
        now = datetime.now(UTC)
        (lat, lng), (dlat, dlng) = HOME, AREA_HALF_SIDE
        self.case_number = f"DEMO-{now:%Y%m%d-%H%M%S}"
        body = {
            "case_number": self.case_number,
            "incident_type": "package theft",
            "description": "A parcel was taken from a doorstep on Demo Street; we are looking "
            "for anyone who walked past in the last half hour.",
            "legal_basis": "consent",
            "polygon": [
                [lat - dlat, lng - dlng],
                [lat - dlat, lng + dlng],
                [lat + dlat, lng + dlng],
                [lat + dlat, lng - dlng],
            ],
            "window": {"start": (now - WINDOW).isoformat(), "end": now.isoformat()},
            "valid_for_hours": 72,
            "contact": "detective@demo-sheriff.example",
        }
        self.say(
            f"{AGENCY_NAME} asks the group for footage (case {self.case_number}: the last "
            f"{WINDOW.seconds // 60} minutes, a small area around the demo's home)"
        )
        sent: dict[str, Any] = http_json(
            "POST", f"{self.agency_url}/requests", body, self.state["agency_token"]
        )
        return sent

    def evidence(self) -> list[dict[str, Any]]:
        """What the agency has received (as its officer sees it)."""
        listed: dict[str, Any] = http_json(
            "GET", f"{self.agency_url}/evidence", token=self.state["agency_token"]
        )
        return list(listed["evidence"])

    def named_processes(self) -> list[tuple[str, subprocess.Popen[bytes]]]:
        """What runs (the group's bot, the agency's hub), named for the console."""
        return list(zip(("the group's bot", "the agency's hub"), self.processes, strict=False))

    def stop(self) -> None:
        """Stop the agency's hub, then the bot (before the homeserver stops)."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def summary(self) -> list[str]:
        """The agency lines of the console's closing block."""
        token = self.state["agency_token"]
        return [
            f"police agency:   {AGENCY_NAME} ({self.agency_id}), admitted by the group; its "
            f"request {self.case_number} waits in Home Assistant: Settings > Repairs",
            f"  agency API:    {self.agency_url}/evidence  (officer's token: {token})",
            f"  its audit log: {self.agency_url}/audit  (the same token)",
            f"  transparency:  {self.transparency_url}",
        ]

    def _serve(self, command: list[str], log: str, url: str, what: str) -> None:
        with (self.neighborhood.logs / log).open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        self.processes.append(process)
        self.neighborhood.wait(lambda: answers(url), what, process, 60, log)

    def _run(self, command: list[str], what: str) -> str:
        return self.neighborhood.run(command, what, "agency.log")
