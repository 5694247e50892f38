"""`doorward-hub group ...` as a group admin types it, against a real Synapse."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from doorward_hub.neighborhood.invite import Invite

from .conftest import synapse


def _hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doorward_hub", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def test_group_commands(homeserver: Any, tmp_path: Path) -> None:
    """create -> invite -> members -> remove; errors are one line, exit code 1, no traceback."""
    admin = f"admin-{secrets.token_hex(4)}"
    password_file = tmp_path / "password"
    password_file.write_text(secrets.token_urlsafe(16))
    synapse.register(homeserver, admin, password_file.read_text(), admin=True)
    data = ["--data-dir", str(tmp_path / "hub")]

    created = _hub(
        "group", "create", *data, "--homeserver", homeserver.url, "--user", admin,
        "--password-file", str(password_file), "--name", "Elm Street",
        "--max-request-window-minutes", "240",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created 'Elm Street'" in created.stdout
    assert (tmp_path / "hub/neighborhood").stat().st_mode & 0o777 == 0o700

    invited = _hub("group", "invite", *data, "--homeserver-url", "https://matrix.example.org")
    assert invited.returncode == 0, invited.stderr
    invite = Invite.decode(invited.stdout.strip())
    assert invite.homeserver == "https://matrix.example.org"
    assert invite.group_name == "Elm Street"

    listed = _hub("group", "members", *data, "--json")
    assert listed.returncode == 0, listed.stderr
    members = {m["user_id"]: m["membership"] for m in json.loads(listed.stdout)["members"]}
    reserved = f"@{invite.username}:{homeserver.server_name}"
    assert members == {f"@{admin}:{homeserver.server_name}": "join", reserved: "invite"}

    assert _hub("group", "remove", *data, reserved).returncode == 0
    again = _hub("group", "remove", *data, reserved)
    assert again.returncode == 1
    assert again.stderr.strip() == f"doorward-hub group: {reserved} is not a member of 'Elm Street'"

    nothing = _hub("group", "invite", "--data-dir", str(tmp_path / "elsewhere"))
    assert nothing.returncode == 1
    assert "Traceback" not in nothing.stderr
    assert "no Matrix login" in nothing.stderr
