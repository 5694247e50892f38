"""Agency -> group -> three households -> answer -> verified evidence, on a real Synapse.

Hub A's home is inside the request's area with clips in its window, hub B's is inside without
clips in the window, hub C's is outside. Only A is shown the request; A shares one of its two
matching clips; the agency verifies and keeps exactly that clip, never learns of B or C, and
deletes the clip when A's retention ends. Forged and tampered answers are stored unverified.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nio.responses import RoomSendResponse, UploadResponse

from doorward_hub.exports.clip import ExportClip
from doorward_hub.exports.identity_key import load_or_create
from doorward_hub.exports.manifest import ManifestItem, signed_manifest
from doorward_hub.exports.package import encrypt_file
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.police.area import home_area_cell
from doorward_hub.police.direct_rooms import direct_room
from doorward_hub.police.event_types import ANSWER
from doorward_hub.police.evidence import EvidenceItem, EvidenceNotFound
from doorward_hub.police.household import HouseholdRequests
from doorward_hub.police.pending import AnswerError

from ..neighborhood.households import Household
from ..neighborhood.media import make_clip
from .groups import PoliceGroup, draft, make_group, until

pytestmark = pytest.mark.timeout(300)  # real hubs and Synapse; slow on a loaded machine

HOME_A = (52.3702, 4.8952)
HOME_B = (52.3704, 4.8948)
HOME_C = (52.3900, 4.9300)
HOUR_MS = 3600_000


class ClipsOnDisk:
    """Clips made with PyAV in a folder, looked up by time as the recording library is."""

    def __init__(self, clips: list[ExportClip]) -> None:
        """Serve `clips`."""
        self.clips = clips

    async def between(self, start_ms: int, end_ms: int) -> list[ExportClip]:
        """Clips overlapping the window, oldest first."""
        found = [c for c in self.clips if c.end_ms >= start_ms and c.start_ms <= end_ms]
        return sorted(found, key=lambda c: c.start_ms)


@dataclass
class Home:
    """A household hub with its police requests."""

    household: Household
    requests: HouseholdRequests
    clips: ClipsOnDisk

    async def sync(self) -> None:
        """One sync of the group into the requests."""
        await self.household.membership.sync_once(self.requests, timeout_ms=0)


@dataclass
class Street:
    """The group, the agency (with a clock the test moves) and homes A, B, C."""

    group: PoliceGroup
    homes: dict[str, Home]
    offset: list[float]

    async def sync_all(self) -> None:
        """Bot, agency and every home sync once."""
        await self.group.bot.sync_once()
        await self.group.agency.sync_once()
        for home in self.homes.values():
            await home.sync()


@pytest.fixture
async def street(homeserver: Any, tmp_path: Path) -> AsyncIterator[Street]:
    """Elm Street with its bot, Elm PD and three household hubs."""
    offset = [0.0]
    group = await make_group(
        homeserver, tmp_path, GroupPolicy(max_export_retention_days=30),
        clock=lambda: time.time() + offset[0],
    )  # fmt: skip
    now_ms = int(time.time() * 1000)
    window = now_ms - 3 * HOUR_MS
    clip_times = {
        "a": [window + 10 * 60_000, window + 40 * 60_000, now_ms - HOUR_MS // 2],
        "b": [now_ms - HOUR_MS // 2],
        "c": [window + 20 * 60_000],
    }
    homes: dict[str, Home] = {}
    for name, location in (("a", HOME_A), ("b", HOME_B), ("c", HOME_C)):
        data = tmp_path / f"hub-{name}"
        household = await Household.join(
            data, f"Hub {name.upper()}", await group.host.invite(), location
        )
        clips = ClipsOnDisk(
            [
                make_clip(data / "clips", f"{name}{index}", start)
                for index, start in enumerate(clip_times[name], start=1)
            ]
        )
        requests = HouseholdRequests(
            data / "police",
            household.membership,
            household.identity,
            household.audit,
            clips,
            home_cell=home_area_cell(*location),
        )
        homes[name] = Home(household, requests, clips)
    made = Street(group, homes, offset)
    for _ in range(2):
        await made.sync_all()
    yield made
    for home in homes.values():
        await home.household.stop()
    await group.close()


async def test_only_the_home_inside_with_clips_is_asked_and_its_chosen_clip_arrives(
    street: Street,
) -> None:
    """The whole path of a request, and what each side learns."""
    agency = street.group.agency
    a, b, c = street.homes["a"], street.homes["b"], street.homes["c"]
    sent = await agency.send_request(draft())
    pending = await until(a.requests.requests, street.sync_all)
    assert [p.request.request_id for p in pending] == [sent.request.request_id]
    assert pending[0].clip_ids == ["a1", "a2"]
    assert a.requests.held_clip_ids() == {"a1", "a2"}
    await street.sync_all()
    assert b.requests.requests() == []
    assert c.requests.requests() == []
    actions = {
        name: [e.action for e in await home.household.audit.entries()]
        for name, home in street.homes.items()
    }
    assert "request.pending" in actions["a"]
    assert "request.no_matching_clips" in actions["b"]
    assert "request.not_for_us" in actions["c"]

    # Nothing moves without the answer: many syncs later the agency has nothing and no invite.
    for _ in range(3):
        await street.sync_all()
    assert agency.evidence.items() == []
    assert not agency.membership.client.invited_rooms

    with pytest.raises(AnswerError, match="do not match"):
        await a.requests.answer(sent.request.request_id, "household", ["a3"])
    result = await a.requests.answer(sent.request.request_id, "household", ["a2"])
    assert result.shared_clip_ids == ["a2"]
    assert a.requests.held_clip_ids() == set()
    with pytest.raises(AnswerError, match="answered already"):
        await a.requests.answer(sent.request.request_id, "household")
    with pytest.raises(AnswerError, match="no request"):
        await b.requests.decline(sent.request.request_id, "household")

    items = await until(agency.evidence.items, street.sync_all)
    assert len(items) == 1
    item = items[0]
    a2 = a.clips.clips[1]
    assert item.verified, item.verification
    assert item.sha256 == hashlib.sha256(a2.video.read_bytes()).hexdigest()
    assert item.request_id == sent.request.request_id
    assert item.case_number == "2026-1234"
    assert item.manifest is not None
    assert item.manifest["items"][0]["device_start_ms"] == a2.start_ms
    assert item.manifest["expires_ms"] - item.manifest["created_ms"] == 30 * 86_400_000
    stored = agency.evidence.folder / str(item.file)
    assert stored.read_bytes() == a2.video.read_bytes()
    assert stored.stat().st_mode & 0o777 == 0o600

    # The agency learns only who shared: B and C appear nowhere on its side.
    agency_side = " ".join(
        [
            str([e.body() for e in await street.group.agency_audit.entries()]),
            str(agency.evidence.items()),
            str(list(agency.membership.client.rooms)),
        ]
    )
    for home in (b, c):
        assert str(home.household.membership.client.user_id) not in agency_side

    a_log = [(e.action, e.details) for e in await a.household.audit.entries()]
    answered = next(d for action, d in a_log if action == "request.answered")
    assert answered["shared_clip_ids"] == ["a2"]
    assert answered["declined_clip_ids"] == ["a1"]
    assert [action for action, _ in a_log].count("export.delivered") == 1

    # Viewing is logged; at the end of the retention the clip is deleted, and that is logged.
    assert await agency.evidence.open(item.evidence_id, "officer 7") == stored
    street.offset[0] = 29 * 86_400
    assert await agency.evidence.enforce_retention() == []
    street.offset[0] = 31 * 86_400
    assert await agency.evidence.enforce_retention() == [item.evidence_id]
    assert not stored.exists()
    with pytest.raises(EvidenceNotFound):
        await agency.evidence.open(item.evidence_id, "officer 7")
    agency_actions = [e.action for e in await street.group.agency_audit.entries()]
    assert agency_actions[-3:] == ["evidence.received", "evidence.viewed", "evidence.deleted"]


async def test_forged_and_tampered_answers_are_kept_unverified(street: Street) -> None:
    """An answer signed with an unpublished key, one whose clip differs from what was signed,
    and one to a request the agency never sent are each stored unverified with the reason."""
    agency = street.group.agency
    a = street.homes["a"]
    sent = await agency.send_request(draft())
    await until(a.requests.requests, street.sync_all)
    client = a.household.membership.client
    room_id = await direct_room(
        client, a.household.data_dir / "police", agency.membership.client.user_id
    )
    clip = a.clips.clips[0]
    original = hashlib.sha256(clip.video.read_bytes()).hexdigest()

    async def send_answer(request_id: str, identity_dir: Path, shared: bytes) -> None:
        identity = load_or_create(identity_dir)
        encrypted = await _encrypt(shared, a.household.data_dir)
        now = int(time.time() * 1000)
        manifest = signed_manifest(
            identity=identity, export_id="forged", purpose="police_answer",
            recipient=str(agency.membership.client.user_id),
            items=[ManifestItem("clip.mp4", len(shared), original, original, (),
                                clip.start_ms, clip.end_ms, "device")],
            created_ms=now, expires_ms=now + 86_400_000, request_id=request_id,
            case_number="2026-1234",
        )  # fmt: skip
        upload, _ = await client.upload(
            io.BytesIO(encrypted.ciphertext), content_type="application/octet-stream",
            filename="clip.mp4", filesize=len(encrypted.ciphertext),
        )  # fmt: skip
        assert isinstance(upload, UploadResponse), upload
        content = {
            "msgtype": "m.video", "body": "answer",
            "file": encrypted.file_block(str(upload.content_uri)),
            ANSWER: {"request_id": request_id, "case_number": "2026-1234", "part": 1,
                     "parts": 1, "manifest": manifest},
        }  # fmt: skip
        response = await client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(response, RoomSendResponse), response

    video = clip.video.read_bytes()
    await send_answer(sent.request.request_id, a.household.data_dir / "other-key", video)
    await send_answer(sent.request.request_id, a.household.data_dir, video[:-10] + b"0" * 10)
    await send_answer("req-neversent1", a.household.data_dir, video)

    def three() -> list[EvidenceItem] | None:
        found = agency.evidence.items()
        return found if len(found) == 3 else None

    items = await until(three, street.sync_all)
    reasons = [(i.verified, i.verification) for i in items]
    assert reasons[0] == (False, "signed with a key the sender has not published")
    assert reasons[1] == (False, "item 'clip.mp4' differs from what was signed")
    assert reasons[2] == (False, "not an answer to a request this agency sent")
    assert all(i.expires_ms - i.received_ms <= 7 * 86_400_000 for i in items)
    assert [e.details["verified"] for e in await street.group.agency_audit.entries()
            if e.action == "evidence.received"] == [False, False, False]  # fmt: skip


async def _encrypt(data: bytes, folder: Path) -> Any:
    path = folder / "answer.bin"
    path.write_bytes(data)
    return encrypt_file(path, "video/mp4")
