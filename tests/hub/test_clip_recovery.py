"""No clip is lost to a crash (issue 15, item 9): a real hub recording from a simulated doorbell
is killed with SIGKILL mid-clip; at restart the cut-off clip is kept, in place, as the playable
fragmented MP4 of what was recorded, and a finished clip whose index row was not yet written is
indexed."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from .conftest import LOOPBACK, Process, free_port, pair_client, wait_for
from .test_processes import serve_args, start_simulator, wait_until_serving
from .test_recording import ffprobe


def index_first(path: Path) -> bool:
    """The MP4's index (`moov`) comes before its media (`mdat`): playable while downloading."""
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


async def test_a_killed_hub_keeps_the_clip_it_was_writing_and_the_one_it_was_indexing(
    tmp_path: Path, processes: Callable[[list[str], str], Process], http: aiohttp.ClientSession
) -> None:
    port = free_port()
    data = tmp_path / "hub"
    config = tmp_path / "hub.yaml"
    config.write_text("recording: {pre_roll_seconds: 1, post_roll_seconds: 1}\n")
    args = [*serve_args(data, port), "--config", str(config)]
    hub = processes(args, "hub")
    door = await start_simulator(processes, tmp_path, "door")
    await wait_until_serving(http, hub, port)
    base = f"http://{LOOPBACK}:{port}/api/v1"
    token = await pair_client(
        http, f"http://{LOOPBACK}:{port}", (data / "pairing-code").read_text().strip()
    )
    headers = {"Authorization": f"Bearer {token}"}

    async def record(duration: float) -> bool:
        async with http.post(
            f"{base}/doorbells/{door['id']}/record", headers=headers, json={"duration": duration}
        ) as response:
            return response.status == 202

    async def listed() -> list[dict[str, Any]]:
        async with http.get(f"{base}/clips", headers=headers) as response:
            clips: list[dict[str, Any]] = (await response.json())["clips"]
            return clips

    clips = data / "clips"
    # A finished clip first...
    await wait_for(lambda: record(1), timeout=30)
    await wait_for(listed, timeout=30)
    (finished,) = await listed()
    # ...then one that is being written when the hub dies, after about 4 s of it are on disk.
    await wait_for(lambda: record(60), timeout=30)
    await wait_for(lambda: list(clips.glob("*.json")), timeout=30)
    (journal,) = clips.glob("*.json")
    written_since = time.monotonic()
    await wait_for(lambda: time.monotonic() - written_since > 4, timeout=10)
    recorded = time.monotonic() - written_since
    hub.stop(signal.SIGKILL)
    cut_off = journal.with_suffix(".mp4")
    recording = cut_off.with_name(cut_off.name + ".partial")
    assert recording.exists(), "the kill happened mid-write"
    recorded_inode = recording.stat().st_ino
    assert not cut_off.exists()

    # The finished clip as the hub leaves it when killed between its rename and its index row:
    # the video in place, the journal still there, no row (the SIGKILL window is
    # a few milliseconds, too narrow to hit from outside, so the test puts the files back).
    database = sqlite3.connect(data / "hub.db")
    database.row_factory = sqlite3.Row
    with database:
        row = database.execute("SELECT * FROM clips WHERE id = ?", (finished["id"],)).fetchone()
        database.execute("DELETE FROM clips WHERE id = ?", (finished["id"],))
    database.close()
    finished_journal = (clips / finished["file_name"]).with_suffix(".json")
    keys = ("doorbell_id", "trigger", "trigger_seq", "trigger_time", "start")
    finished_journal.write_text(json.dumps({key: row[key] for key in keys}))
    finished_journal.chmod(0o600)

    hub = processes(args, "hub-again")
    await wait_until_serving(http, hub, port)
    after = await listed()
    names = [clip["file_name"] for clip in after]
    assert sorted(names) == sorted([finished["file_name"], cut_off.name]), hub.output()
    files = {p.name for p in clips.iterdir()}
    assert files == set(names), "recovered, journals gone, no thumbnail until one is asked for"

    by_name = {clip["file_name"]: clip for clip in after}
    reindexed, recovered = by_name[finished["file_name"]], by_name[cut_off.name]
    unchanged = set(finished) - {"id", "end", "end_device_time", "duration"}
    assert {k: reindexed[k] for k in unchanged} == {k: finished[k] for k in unchanged}
    assert abs(reindexed["duration"] - finished["duration"]) < 0.1
    # What was recorded up to the kill is kept: at least the pre-roll and the seconds since the
    # journal, less the fragment being written (at most a second).
    probed = ffprobe(cut_off)
    duration = float(probed["format"]["duration"])
    assert recorded - 1.5 <= duration <= recorded + 3, (duration, recorded)
    assert abs(recovered["duration"] - duration) < 1
    assert [s["codec_name"] for s in probed["streams"] if s["codec_type"] == "video"] == ["h264"]
    assert cut_off.stat().st_ino == recorded_inode, "kept in place, not copied"
    for clip in after:
        path = clips / clip["file_name"]
        assert index_first(path)
        async with http.get(f"{base}/clips/{clip['id']}/video", headers=headers) as response:
            assert hashlib.sha256(await response.read()).hexdigest() == clip["sha256"]
        async with http.get(f"{base}/clips/{clip['id']}/thumbnail", headers=headers) as response:
            assert response.status == 200
            assert (await response.read()).startswith(b"\xff\xd8")
    thumbnails = {name.removesuffix(".mp4") + ".jpg" for name in names}
    assert {p.name for p in clips.iterdir()} == set(names) | thumbnails

    # Another kill and start lists each clip once still.
    hub.stop(signal.SIGKILL)
    hub = processes(args, "hub-third")
    await wait_until_serving(http, hub, port)
    assert sorted(c["file_name"] for c in await listed()) == sorted(names)
