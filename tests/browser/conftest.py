"""The demo stack and a headless Chromium for the end-to-end browser test.

`scripts/demo.py` runs for real (hub, simulated doorbells, Home Assistant with the integration
added through its config flow) in a fresh state folder, on free loopback ports; Debian's
Chromium, driven by playwright, is the person at the keyboard. Never `playwright install`: the
browser is `/usr/bin/chromium` (scripts/toolchain installs it).

Screenshots of every step go to `.browser-test/<time>/` in the repository (git ignores it); the
run's summary names the folder. Everything the page logs to its console, and every HTTP answer
of 400 or more, is kept for the last checks.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from tests.support import LOOPBACK, free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",  # runs as root in the toolchain's chroot
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
]
SCREENSHOTS = REPO / ".browser-test" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
# Home Assistant's first start in a fresh folder, adding the hub, a new homeserver and group, and
# the neighbor's share take well under this.
DEMO_START_TIMEOUT = 540.0


@dataclass
class DemoStack:
    """`scripts/demo.py` running in its own state folder; `start()` and `stop()` it again."""

    folder: Path
    hub_port: int = field(default_factory=free_port)
    ha_port: int = field(default_factory=free_port)
    synapse_port: int = field(default_factory=free_port)
    neighbor_hub_port: int = field(default_factory=free_port)
    neighbor_doorbell_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    home_assistant: dict[str, Any] = field(default_factory=dict)
    doorbells: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Home Assistant's address."""
        return f"http://{LOOPBACK}:{self.ha_port}"

    @property
    def console_log(self) -> Path:
        """What the demo printed: progress and its closing block."""
        return self.folder / "console.log"

    @property
    def ha_log(self) -> Path:
        """Home Assistant's own log."""
        return self.folder / "ha-config" / "home-assistant.log"

    def start(self) -> None:
        """Run the demo and wait for its closing block (everything is set up then)."""
        ready = self.folder / "home-assistant.json"
        self.folder.mkdir(parents=True, exist_ok=True)
        # A second run appends to the console log: look only at what this run printed.
        start = self.console_log.stat().st_size if self.console_log.exists() else 0
        with self.console_log.open("ab") as console:
            self.process = subprocess.Popen(
                [sys.executable, str(REPO / "scripts" / "demo.py"), "--dir", str(self.folder),
                 "--hub-port", str(self.hub_port), "--ha-port", str(self.ha_port),
                 "--synapse-port", str(self.synapse_port),
                 "--neighbor-hub-port", str(self.neighbor_hub_port),
                 "--neighbor-doorbell-port", str(self.neighbor_doorbell_port)],
                cwd=REPO, stdout=console, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + DEMO_START_TIMEOUT
        while "Doorward demo is running" not in self.printed(start):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the demo did not start:\n{self.console_log.read_text()}")
            time.sleep(0.5)
        self.home_assistant = json.loads(ready.read_text(encoding="utf-8"))
        state = json.loads((self.folder / "simulator.json").read_text(encoding="utf-8"))
        self.doorbells = state["doorbells"]

    def printed(self, start: int = 0) -> str:
        """What the demo printed from byte `start` of its console log on."""
        with self.console_log.open("rb") as console:
            console.seek(start)
            return console.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop the demo as Ctrl-C would (it stops Home Assistant, the hub and the doorbells)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def press(self, index: int = 0) -> None:
        """Press a doorbell's button (the simulator's control endpoint: a finger on it)."""
        request = urllib.request.Request(
            f"{self.doorbells[index]['url']}/sim/press", data=b"", method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


@dataclass
class BrowserLog:
    """What the page said: console messages and failed HTTP answers, with the step's name."""

    console: list[tuple[str, str, str]] = field(default_factory=list)
    failed_responses: list[tuple[int, str]] = field(default_factory=list)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder for this run's screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """The demo, started from scratch (as on a fresh clone), stopped at the end."""
    stack = DemoStack(tmp_path_factory.mktemp("demo") / "state")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        # Home Assistant's log stays with the screenshots, for the reviewer.
        if stack.ha_log.exists():
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(stack.ha_log, SCREENSHOTS / "home-assistant.log")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/toolchain installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_log() -> BrowserLog:
    """Console messages and failed answers of the whole session."""
    return BrowserLog()


@pytest.fixture(scope="session")
def page(browser: Browser, browser_log: BrowserLog) -> Iterator[Page]:
    """One tab for the whole walk through, as a person would keep it open."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)

    def console(message: ConsoleMessage) -> None:
        location = message.location.get("url", "") if message.location else ""
        browser_log.console.append((message.type, message.text, location))

    def response(answer: Response) -> None:
        if answer.status >= 400:
            browser_log.failed_responses.append((answer.status, answer.url))

    page.on("console", console)
    page.on("response", response)
    yield page
    context.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the screenshot folder at the end of the run."""
    if SCREENSHOTS.exists():
        terminalreporter.write_line(f"browser test screenshots: {SCREENSHOTS}")
