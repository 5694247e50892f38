"""The main job: a hub, simulated doorbells and Home Assistant with the integration, on loopback.

Run through `scripts/demo` (which provides the toolchain). Everything it keeps lives in `.demo/`
in the repository (git ignores it); delete that folder to start from scratch. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def wait_until(check: object, what: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll `check()` until it is true; stop the demo if `process` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if process.poll() is not None:
            raise SystemExit(f"demo: {what} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: {what} did not come up within {timeout:.0f} s")
        time.sleep(0.2)


def answers(url: str) -> bool:
    """True if `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    """Start everything, print where to look, wait for Ctrl-C, stop everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doorbells", type=int, default=2, help="simulated doorbells (default 2)")
    parser.add_argument("--hub-port", type=int, default=8470)
    parser.add_argument("--no-home-assistant", action="store_true", help="hub and doorbells only")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    demo = REPO / ".demo"
    demo.mkdir(exist_ok=True)
    state_file = demo / "simulator.json"
    state_file.unlink(missing_ok=True)
    hub_url = f"http://{LOOPBACK}:{args.hub_port}"
    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(name: str, command: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, cwd=REPO)  # noqa: S603 - our own commands
        children.append((name, process))
        return process

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    hub_command = [sys.executable, "-m", "doorward_hub"]
    try:
        hub = start(
            "hub",
            [*hub_command, "serve", "--data-dir", str(demo / "hub"), "--host", LOOPBACK,
             "--port", str(args.hub_port), "--interface", LOOPBACK, "--name", "Demo hub"],
        )  # fmt: skip
        simulator = start(
            "simulated doorbells",
            [*hub_command, "simulate", "--doorbells", str(args.doorbells), "--interface",
             LOOPBACK, "--state-file", str(state_file)],
        )  # fmt: skip
        wait_until(lambda: answers(f"{hub_url}/api/v1/info"), "the hub", hub, 60)
        wait_until(state_file.exists, "the simulated doorbells", simulator, 60)
        doorbells = json.loads(state_file.read_text())["doorbells"]
        code = (demo / "hub" / "pairing-code").read_text().strip()

        home_assistant = REPO / "scripts" / "ha_demo.py"
        if not args.no_home_assistant and home_assistant.exists():
            start(
                "Home Assistant",
                [sys.executable, str(home_assistant), "--hub-url", hub_url, "--pairing-code", code],
            )
        print("\n=== Doorward demo is running (Ctrl-C stops it) ===")
        print(f"hub API:      {hub_url}/api/v1/info  (OpenAPI: {hub_url}/api/v1/openapi.json)")
        print(f"pairing code: {code}  (new ones: scripts/toolchain run doorward-hub "
              f"pairing-code --data-dir .demo/hub)")  # fmt: skip
        for doorbell in doorbells:
            print(f"doorbell:     {doorbell['name']} ({doorbell['id']}) at {doorbell['url']}")
            print(f"  press it:   scripts/toolchain run doorward-hub press {doorbell['url']}")
        while all(process.poll() is None for _, process in children):
            time.sleep(0.5)
        for name, process in children:
            if process.returncode is not None:
                print(f"demo: {name} exited with code {process.returncode}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for _, process in reversed(children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in reversed(children):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    raise SystemExit(main())
