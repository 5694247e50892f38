"""Schemathesis against the served OpenAPI document of a running hub with a simulated doorbell:
every check on, a bounded number of generated cases, zero failures, and no traceback in the
hub's log. The counts are printed (`-s` shows them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from .conftest import LOOPBACK, free_port, pair_client, wait_for
from .test_processes import Start, cli, serve_args, start_simulator, wait_until_serving

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 300
"""Cases per operation and phase: under a minute on one core."""

EXCLUDED = ("doorbell_video", "revoke_token")
"""The endless live video and self-revocation (both covered by test_openapi.py)."""


# About 2 minutes on an idle machine; the suite's 120 s default is too short under load.
@pytest.mark.timeout(900)
async def test_schemathesis_finds_nothing(
    tmp_path: Path, processes: Start, http: aiohttp.ClientSession
) -> None:
    port = free_port()
    hub = processes(serve_args(tmp_path / "hub", port), "hub")
    doorbell = await start_simulator(processes, tmp_path, "door")
    await wait_until_serving(http, hub, port)
    base = f"http://{LOOPBACK}:{port}"
    token = await pair_client(http, base, (tmp_path / "hub" / "pairing-code").read_text().strip())

    async def online() -> bool:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{base}/api/v1/doorbells", headers=headers) as response:
            doorbells = (await response.json())["doorbells"]
        return any(d["id"] == doorbell["id"] and d["online"] for d in doorbells)

    await wait_for(online, timeout=30)
    # An event with its picture and a clip, for the run to find.
    pressed = cli("press", doorbell["url"])
    assert pressed.returncode == 0, pressed.stderr
    headers = {"Authorization": f"Bearer {token}"}
    record = f"{base}/api/v1/doorbells/{doorbell['id']}/record"

    async def recording() -> bool:  # 409 until the hub has the doorbell's live video
        async with http.post(record, json={"duration": 1}, headers=headers) as response:
            return response.status == 202

    async def clip() -> bool:
        async with http.get(f"{base}/api/v1/clips", headers=headers) as response:
            return bool((await response.json())["clips"])

    await wait_for(recording, timeout=30, interval=0.5)
    try:
        await wait_for(clip, timeout=60)
    except AssertionError:
        raise AssertionError(hub.output()[-5000:]) from None
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/api/v1/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        *(arg for op in EXCLUDED for arg in ("--exclude-operation-id", op)),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261130",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    run = subprocess.run(  # noqa: ASYNC221 - the hub under test is another process
        command, capture_output=True, text=True, timeout=840, check=False, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    tracebacks = [line[:300] for line in hub.output().splitlines() if "Traceback" in line]
    assert tracebacks == []
    result = json.loads(report.read_text())
    operations, cases = result["operations"], result["test_cases"]
    assert operations["tested"] == operations["total"] - len(EXCLUDED)
    assert operations["errored"] == 0
    assert cases["with_failures"] == cases["unique_failures"] == cases["errored"] == 0
    assert result["failures"] == result["errors"] == []
    assert all(phase["status"] in ("success", "skip") for phase in result["phases"].values())
    print(
        f"schemathesis: {operations['tested']} of {operations['total']} operations, "
        f"{cases['generated']} cases, {len(result['failures'])} failures"
    )
