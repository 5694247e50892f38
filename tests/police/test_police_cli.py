"""`doorward-hub group agency ...`, `group moderate` and `agency ...` as people type them."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import synapse

pytestmark = pytest.mark.timeout(300)  # real hubs and Synapse; slow on a loaded machine


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doorward_hub", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def test_admit_request_moderate_remove(homeserver: Any, tmp_path: Path) -> None:
    """An admin admits an agency, the agency joins and sends a request the bot keeps; a request
    beyond the group's window is taken down; errors are one line with exit code 1."""
    admin, agency = f"admin-{secrets.token_hex(4)}", f"pd-{secrets.token_hex(4)}"
    password_file = tmp_path / "password"
    password_file.write_text(secrets.token_urlsafe(16))
    synapse.register(homeserver, admin, password_file.read_text(), admin=True)
    synapse.register(homeserver, agency, password_file.read_text())
    agency_id = f"@{agency}:{homeserver.server_name}"
    host = ["--data-dir", str(tmp_path / "host")]
    pd = ["--data-dir", str(tmp_path / "pd")]

    created = _run(
        "group", "create", *host, "--homeserver", homeserver.url, "--user", admin,
        "--password-file", str(password_file), "--name", "Elm Street",
        "--max-request-window-minutes", "120", "--warrant-required",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    admitted = _run(
        "group", "agency", "admit", *host, agency_id, "--name", "Elm PD",
        "--jurisdiction", "Elm County",
    )  # fmt: skip
    assert admitted.returncode == 0, admitted.stderr
    lines = dict(line.strip().split(": ", 1) for line in admitted.stdout.splitlines()[1:])
    assert _run("group", "moderate", *host, "--once").returncode == 0  # the bot's device keys

    joined = _run(
        "agency", "join", *pd, "--homeserver", homeserver.url, "--user", agency,
        "--password-file", str(password_file), "--space", lines["space"],
        "--requests-room", lines["requests room"],
    )  # fmt: skip
    assert joined.returncode == 0, joined.stderr
    assert (tmp_path / "pd/police/agency").stat().st_mode & 0o777 == 0o700

    request = [
        "agency", "request", *pd, "--case-number", "2026-77", "--incident-type", "theft",
        "--description", "Bike stolen", "--legal-basis", "consent",
        "--polygon", "52.3695,4.8940;52.3710,4.8940;52.3710,4.8965;52.3695,4.8965",
        "--window-start", "2026-11-29T10:00+00:00", "--window-end", "2026-11-29T11:00+00:00",
        "--contact", "desk@elm-pd.example",
    ]  # fmt: skip
    sent = _run(*request)
    assert sent.returncode == 0, sent.stderr
    assert "60 minutes" in sent.stdout
    warrant = tmp_path / "warrant-2026-78.pdf"
    warrant.write_bytes(b"%PDF-1.7\n%%EOF\n")
    case = request.index("--case-number") + 1
    with_warrant = [*request[:case], "2026-78", *request[case + 1 :], "--warrant", str(warrant)]
    assert _run(*with_warrant).returncode == 0
    not_a_pdf = tmp_path / "warrant.pdf"
    not_a_pdf.write_bytes(b"<html>")
    refused = _run(*with_warrant[:-1], str(not_a_pdf))
    assert refused.returncode == 1
    assert "not a application/pdf file" in refused.stderr
    moderated = _run("group", "moderate", *host, "--once")
    assert moderated.returncode == 0, moderated.stderr
    verdicts = moderated.stdout.splitlines()
    assert "took down (out_of_policy)" in verdicts[0]  # no warrant attached
    assert verdicts[1].endswith(": kept")

    # The group's transparency report: published by command, served by `group serve`.
    published = _run("group", "transparency", "publish", *host)
    assert published.returncode == 0, published.stderr
    assert "Elm PD (Elm County): 2 requests received, 1 shown, 1 taken down" in published.stdout
    bad_period = _run("group", "transparency", "publish", *host, "--period", "2026-13")
    assert bad_period.returncode == 2
    group_serve = subprocess.Popen(
        [sys.executable, "-m", "doorward_hub", "group", "serve", *host, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert group_serve.stdout is not None
        report_url = group_serve.stdout.readline().split(" on ")[1].strip()
        with urllib.request.urlopen(report_url, timeout=10) as response:
            assert "Elm PD" in response.read().decode()
    finally:
        group_serve.send_signal(signal.SIGTERM)
        assert group_serve.wait(timeout=30) == 0

    # The agency's service: an officer's token, the API of a running `agency serve`.
    added = _run("agency", "token", "add", *pd, "Det. Jane Doe")
    assert added.returncode == 0, added.stderr
    token = added.stdout.splitlines()[1]
    token_id = added.stdout.split("(")[1].split(")")[0]
    assert token_id in _run("agency", "token", "list", *pd).stdout
    tokens_file = tmp_path / "pd/police/agency/staff_tokens.json"
    assert tokens_file.stat().st_mode & 0o777 == 0o600
    assert token not in tokens_file.read_text()
    serve = subprocess.Popen(
        [sys.executable, "-m", "doorward_hub", "agency", "serve", *pd, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert serve.stdout is not None
        base = serve.stdout.readline().split(" on ")[1].strip()
        request_list = urllib.request.Request(
            f"{base}/requests", headers={"Authorization": f"Bearer {token}"}
        )
        for _ in range(100):  # until the service's sync has seen the take-down
            with urllib.request.urlopen(request_list, timeout=10) as response:
                listed = json.load(response)["requests"]
            if listed[1]["taken_down"]:
                break
            time.sleep(0.2)
        assert [r["case_number"] for r in listed] == ["2026-78", "2026-77"]
        assert [r["has_warrant"] for r in listed] == [True, False]
        assert listed[0]["taken_down"] is None
        assert listed[1]["taken_down"]["code"] == "out_of_policy"
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
    assert _run("agency", "token", "revoke", *pd, token_id).returncode == 0
    assert _run("agency", "token", "revoke", *pd, token_id).returncode == 1

    agencies = _run("group", "agency", "list", *host, "--json")
    assert json.loads(agencies.stdout)["agencies"][0]["status"] == "active"
    removed = _run("group", "agency", "remove", *host, agency_id, "--reason", "ended")
    assert removed.returncode == 0, removed.stderr
    again = _run("group", "agency", "suspend", *host, agency_id, "--reason", "x")
    assert again.returncode == 1
    assert (
        again.stderr.strip() == f"doorward-hub group: {agency_id} is not an agency of 'Elm Street'"
    )
    bad = _run(*request[:-2], "--contact", "x", "--polygon", "1,2;3,4")
    assert bad.returncode == 2
    assert "at least three" in bad.stderr
