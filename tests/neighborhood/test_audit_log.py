"""The audit log is append-only and hash-chained: any edit, removal or reordering is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doorward_hub.audit.log import AuditLog, AuditLogBroken


async def _filled(tmp_path: Path) -> AuditLog:
    log = await AuditLog.open(tmp_path, clock=lambda: 1_790_000_000.0)
    await log.append("export.granted", "alice", "clip:1", {"purpose": "neighbor_post"})
    await log.append("export.delivered", "alice", "clip:1", {"reference": "$e1"})
    await log.append("export.granted", "bob", "clip:2")
    return log


async def test_entries_chain_and_survive_reopening(tmp_path: Path) -> None:
    """Each entry points at the previous hash; reopening continues the chain; file is 0600."""
    log = await _filled(tmp_path)
    entries = await log.entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert log.path.stat().st_mode & 0o777 == 0o600
    reopened = await AuditLog.open(tmp_path)
    fourth = await reopened.append("clip.deleted", "retention", "clip:1")
    assert (fourth.seq, fourth.prev_hash) == (4, entries[-1].hash)


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ("edit", "line 2 was changed"),
        ("remove", "line 2 does not follow"),
        ("swap", "line 2 does not follow"),
        ("garbage", "line 3 is not an audit entry"),
    ],
)
async def test_tampering_is_found(tmp_path: Path, change: str, found: str) -> None:
    """Editing a detail, dropping a line, swapping two lines or adding junk breaks the chain."""
    log = await _filled(tmp_path)
    lines = log.path.read_text().splitlines()
    if change == "edit":
        entry = json.loads(lines[1])
        entry["details"]["reference"] = "$other"
        lines[1] = json.dumps(entry)
    elif change == "remove":
        del lines[1]
    elif change == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        lines[2] = "not json"
    log.path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AuditLogBroken, match=found):
        await log.entries()
    with pytest.raises(AuditLogBroken):
        await AuditLog.open(tmp_path)
