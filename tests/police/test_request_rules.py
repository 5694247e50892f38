"""Police request shapes and the group's rules: what is accepted, what is refused and why."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from doorward_hub.neighborhood.event_types import GroupPolicy, InvalidContent
from doorward_hub.police.area import InvalidArea, contains_home, home_area_cell, polygon_cells
from doorward_hub.police.decline_rules import RULES_FILE, DeclineRules, DeclineRulesFile
from doorward_hub.police.event_types import (
    AgencyRecord,
    PoliceRequest,
    ShareReceipt,
    WarrantDocument,
)
from doorward_hub.police.policy import policy_problems, request_refusal, sender_refusal

AGENCY_ID = "@police:street.test"
# About 220 m x 200 m around Hub A's home in the neighborhood tests.
BLOCK = [(52.3695, 4.8940), (52.3710, 4.8940), (52.3710, 4.8965), (52.3695, 4.8965)]
HOME_INSIDE = (52.3702, 4.8952)
HOME_OUTSIDE = (52.3900, 4.9300)
NOW_MS = 1_790_000_000_000


def agency(status: str = "active") -> AgencyRecord:
    """An agency record as the admins publish it."""
    return AgencyRecord(
        AGENCY_ID, "Elm PD", "Elm County", status,  # type: ignore[arg-type]
        "@admin:street.test", NOW_MS - 1000, "@admin:street.test", NOW_MS - 1000,
    )  # fmt: skip


def request(**changes: Any) -> PoliceRequest:
    """A request within the default policy."""
    made = PoliceRequest(
        request_id="req-0001abcd",
        agency=AGENCY_ID,
        case_number="2026-1234",
        incident_type="burglary",
        description="Break-in at number 12 between 14:00 and 15:00",
        legal_basis="consent",
        area_cells=polygon_cells(BLOCK),
        window_start_ms=NOW_MS - 3 * 3600_000,
        window_end_ms=NOW_MS - 2 * 3600_000,
        created_ms=NOW_MS,
        expires_ms=NOW_MS + 7 * 86_400_000,
        contact="detective@elm-pd.example",
    )
    return dataclasses.replace(made, **changes)


def test_request_round_trips_and_reads_in_any_client() -> None:
    """The content parses back to the same request; its body names case, basis, size, window."""
    sent = request()
    content = sent.to_content()
    assert PoliceRequest.from_content(content) == sent
    assert "2026-1234" in content["body"]
    assert "consent" in content["body"]
    assert "60 minutes" in content["body"]
    assert "no warrant attached" in content["body"]
    assert all(isinstance(cell, str) for cell in content["area"]["cells"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(request_id="x"), "request_id"),
        (lambda c: c.update(legal_basis="hunch"), "legal_basis"),
        (lambda c: c["area"].update(cells=[]), "area"),
        (lambda c: c["area"].update(resolution=8), "area"),
        (lambda c: c["area"].update(cells=["881f1d4813fffff"]), "resolution 9"),
        (lambda c: c["area"].update(cells=c["area"]["cells"] * 2), "twice"),
        (lambda c: c["window"].update(end_ms=c["window"]["start_ms"]), "end after"),
        (lambda c: c.update(expires_ms=c["created_ms"]), "expire"),
        (lambda c: c.update(case_number=" "), "case_number"),
        (lambda c: c.update(created_ms=1.5), "created_ms"),
        (lambda c: c.update(warrant={"file": {"url": "https://x"}}), "warrant"),
        (lambda c: c.pop("window"), "window"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(change: Any, message: str) -> None:
    """Each way a request can be malformed raises InvalidContent naming the field."""
    content = request().to_content()
    change(content)
    with pytest.raises(InvalidContent, match=message):
        PoliceRequest.from_content(content)


def test_area_from_polygon_and_local_home_check() -> None:
    """The polygon becomes resolution-9 cells; the home inside is in them, the other is not."""
    cells = polygon_cells(BLOCK)
    assert 1 <= len(cells) <= 10
    assert contains_home(cells, home_area_cell(*HOME_INSIDE))
    assert not contains_home(cells, home_area_cell(*HOME_OUTSIDE))
    tiny = polygon_cells([(52.37000, 4.89400), (52.37001, 4.89400), (52.37001, 4.89401)])
    assert len(tiny) == 1
    with pytest.raises(InvalidArea, match="three corners"):
        polygon_cells(BLOCK[:2])
    with pytest.raises(InvalidArea, match="out of range"):
        polygon_cells([(91.0, 0.0), (0.0, 0.0), (0.0, 1.0)])
    with pytest.raises(InvalidArea, match="more than"):
        polygon_cells([(52.0, 4.0), (52.5, 4.0), (52.5, 5.0), (52.0, 5.0)])


def test_policy_limits() -> None:
    """Area, window, legal basis, warrant and future windows are each checked against policy."""
    policy = GroupPolicy(
        max_request_area_m2=300_000, max_request_window_minutes=60, legal_bases=("warrant",)
    )
    assert policy_problems(request(legal_basis="warrant"), policy) == []
    problems = policy_problems(
        request(
            window_start_ms=NOW_MS - 3 * 3600_000,
            window_end_ms=NOW_MS + 3600_000,
            area_cells=polygon_cells([(52.36, 4.88), (52.38, 4.88), (52.38, 4.91), (52.36, 4.91)]),
        ),
        dataclasses.replace(policy, warrant_required=True),
    )
    joined = " | ".join(problems)
    assert "legal basis 'consent' is not accepted" in joined
    assert "requires a warrant" in joined
    assert "larger than the group's limit of 300000 m²" in joined
    assert "240 minutes, longer than the group's limit of 60" in joined
    assert "starts after" not in joined
    future = request(window_start_ms=NOW_MS + 60_000, window_end_ms=NOW_MS + 120_000)
    assert "no future footage" in " ".join(policy_problems(future, GroupPolicy()))


def test_policy_content_keeps_warrant_requirement() -> None:
    """`warrant_required` travels in the group state; groups made before it default to False."""
    policy = GroupPolicy(warrant_required=True)
    assert GroupPolicy.from_content(policy.to_content()) == policy
    older = policy.to_content()
    del older["warrant_required"]
    assert GroupPolicy.from_content(older).warrant_required is False
    with pytest.raises(InvalidContent, match="warrant_required"):
        GroupPolicy.from_content({**older, "warrant_required": "yes"})


def test_only_active_admitted_agencies_may_ask() -> None:
    """Unknown, suspended and removed senders are refused; a request naming another agency too."""
    active = {AGENCY_ID: agency()}
    assert sender_refusal(AGENCY_ID, active) is None
    unknown = sender_refusal("@member:street.test", active)
    assert unknown is not None
    assert unknown.code == "not_an_agency"
    suspended = sender_refusal(AGENCY_ID, {AGENCY_ID: agency("suspended")})
    assert suspended is not None
    assert suspended.code == "agency_suspended"
    removed = sender_refusal(AGENCY_ID, {AGENCY_ID: agency("removed")})
    assert removed is not None
    assert removed.code == "agency_removed"

    def refusal(made: PoliceRequest, sender: str = AGENCY_ID, event_ms: int = NOW_MS) -> str:
        found = request_refusal(
            made, sender=sender, event_ms=event_ms, policy=GroupPolicy(), agencies=active,
            now_ms=NOW_MS,
        )  # fmt: skip
        return found.code if found else "ok"

    assert refusal(request()) == "ok"
    assert refusal(request(agency="@other:street.test")) == "sender_mismatch"
    assert refusal(request(), event_ms=NOW_MS + 3600_000) == "clock"
    assert refusal(request(expires_ms=NOW_MS, created_ms=NOW_MS - 10)) == "expired"
    assert refusal(request(legal_basis="exigent", window_end_ms=NOW_MS + 1)) == "ok"
    assert refusal(request(window_start_ms=NOW_MS - 86_400_000)) == "out_of_policy"


def test_agency_record_and_receipt_shapes() -> None:
    """Agency records and share receipts round-trip and refuse what is not theirs."""
    record = agency()
    assert AgencyRecord.from_event(AGENCY_ID, record.to_content()) == record
    assert record.active
    with pytest.raises(InvalidContent, match="status"):
        AgencyRecord.from_event(AGENCY_ID, {**record.to_content(), "status": "vip"})
    with pytest.raises(InvalidContent, match="object"):
        AgencyRecord.from_event(AGENCY_ID, [])
    receipt = ShareReceipt("req-0001abcd", 2)
    assert ShareReceipt.from_content(receipt.to_content()) == receipt
    assert set(receipt.to_content()) == {"body", "msgtype", "request_id", "clip_count", "version"}
    with pytest.raises(InvalidContent, match="clip_count"):
        ShareReceipt.from_content({**receipt.to_content(), "clip_count": 0})
    with pytest.raises(InvalidContent, match="request id"):
        ShareReceipt.from_content({**receipt.to_content(), "request_id": "?"})


def test_warrant_document_shape() -> None:
    """A warrant is an encrypted attachment block; the request carries it and says so."""
    warrant = WarrantDocument(
        {"url": "mxc://street.test/abc", "key": {}, "iv": "x", "hashes": {}, "v": "v2"},
        "warrant.pdf", "application/pdf", 1234,
    )  # fmt: skip
    with_warrant = request(legal_basis="warrant", warrant=warrant)
    content = with_warrant.to_content()
    assert "warrant attached" in content["body"]
    assert PoliceRequest.from_content(content) == with_warrant
    for broken in ({**warrant.to_content(), "size": 0}, {"file": {"url": "mxc://a"}}):
        with pytest.raises(InvalidContent, match="warrant"):
            WarrantDocument.from_content(broken)


def test_decline_rules_decline_only_what_they_name(tmp_path: Path) -> None:
    """Each household rule declines its own kind of request and says why; the defaults decline
    nothing; the rules are kept in a file only the hub's user can read."""
    made = request()
    assert DeclineRules().decline(made) is None
    warrant = WarrantDocument(
        {"url": "mxc://x/y", "key": {}, "iv": "", "hashes": {}}, "w.pdf", "application/pdf", 9
    )
    cases = [
        (DeclineRules(require_warrant=True), made, "no_warrant", "no warrant"),
        (DeclineRules(allowed_agencies=("@other:x",)), made, "agency_not_allowed", AGENCY_ID),
        (DeclineRules(max_area_m2=made.area_m2 - 1), made, "area_too_large", f"{made.area_m2}"),
        (DeclineRules(max_window_minutes=59), made, "window_too_long", "60 minutes"),
    ]
    for rules, asked, rule, words in cases:
        declined = rules.decline(asked)
        assert declined is not None
        assert (declined.rule, words in declined.reason) == (rule, True)
    within = DeclineRules(True, (AGENCY_ID,), made.area_m2, 60)
    assert within.decline(dataclasses.replace(made, warrant=warrant)) is None

    kept = DeclineRulesFile(tmp_path)
    assert kept.current() == DeclineRules()
    asyncio.run(kept.replace(within))
    assert DeclineRulesFile(tmp_path).current() == within
    assert (tmp_path / RULES_FILE).stat().st_mode & 0o777 == 0o600
