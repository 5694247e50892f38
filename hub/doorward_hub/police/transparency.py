"""The group's transparency report: per agency and calendar month (UTC), what was asked and what
was shared, in totals only.

Counted from the group bot's ledger (`requests.json` in the host's folder): the requests it
decided on and the share receipts households sent it. Only admitted agencies (any status) are
named; requests from anyone else are one total without a sender, so a member who posts a forged
request is not named either. A receipt is kept as its request id and clip count alone: nothing
records which household sent it (DESIGN.md, invariant 8).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from .event_types import AgencyRecord

PERIOD: Final = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
REPORT_VERSION: Final = 1


class InvalidPeriod(ValueError):
    """Not a `YYYY-MM` period."""


def period_of(time_ms: int) -> str:
    """The calendar month (UTC) of a moment, as `YYYY-MM`."""
    return dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[int, int]:
    """The period's first millisecond and the first of the next period."""
    match = PERIOD.match(period)
    if match is None:
        raise InvalidPeriod(f"{period!r} is not a month like 2026-11")
    year, month = int(match[1]), int(match[2])
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def previous_period(period: str) -> str:
    """The month before."""
    start, _ = period_bounds(period)
    return period_of(start - 1)


@dataclass
class AgencyTotals:
    """One agency's month."""

    agency: str
    """The agency's Matrix id (public: the group admitted it by that id)."""
    name: str
    jurisdiction: str
    requests_received: int = 0
    requests_shown: int = 0
    taken_down: dict[str, int] = field(default_factory=dict)
    """Requests the bot took down, by refusal code."""
    legal_bases: dict[str, int] = field(default_factory=dict)
    """Shown requests by legal basis."""
    case_numbers: list[str] = field(default_factory=list)
    """Case numbers of the shown requests."""
    total_area_m2: int = 0
    """Sum of the shown requests' areas."""
    share_receipts: int = 0
    """Households' receipts for this agency's requests (answers that shared something)."""
    clips_shared: int = 0


@dataclass
class TransparencyReport:
    """A group's report for one month."""

    group: str
    period: str
    agencies: list[AgencyTotals]
    requests_from_non_agencies: int
    """Requests by senders the group never admitted (each taken down); no sender named."""
    generated_ms: int
    complete: bool
    """True once the period has ended (a report of the current month is partial)."""

    def to_content(self) -> dict[str, Any]:
        """The report as JSON (`org.doorward.transparency` content and the public JSON)."""
        return {**asdict(self), "body": self.summary(), "version": REPORT_VERSION}

    def summary(self) -> str:
        """The report as plain text (the notice in `requests`)."""
        lines = [
            f"Transparency report of {self.group} for {self.period}"
            + ("" if self.complete else " (so far)")
            + ":"
        ]
        for totals in self.agencies:
            downs = ", ".join(f"{code} {n}" for code, n in sorted(totals.taken_down.items()))
            bases = ", ".join(f"{basis} {n}" for basis, n in sorted(totals.legal_bases.items()))
            lines.append(
                f"{totals.name} ({totals.jurisdiction}): {totals.requests_received} requests "
                f"received, {totals.requests_shown} shown, "
                f"{sum(totals.taken_down.values())} taken down"
                + (f" ({downs})" if downs else "")
                + (f"; legal bases: {bases}" if bases else "")
                + (f"; cases: {', '.join(totals.case_numbers)}" if totals.case_numbers else "")
                + f"; total area {totals.total_area_m2 / 1e6:.2f} km²; "
                f"{totals.share_receipts} households shared {totals.clips_shared} clips."
            )
        if not self.agencies:
            lines.append("No agency sent a request.")
        if self.requests_from_non_agencies:
            lines.append(
                f"{self.requests_from_non_agencies} requests from senders that are not admitted "
                "agencies were taken down."
            )
        return "\n".join(lines)


def build_report(
    group: str,
    period: str,
    ledger: dict[str, Any],
    agencies: dict[str, AgencyRecord],
    now_ms: int,
) -> TransparencyReport:
    """Count the ledger's entries that fall in `period`."""
    start, end = period_bounds(period)
    totals: dict[str, AgencyTotals] = {}
    request_agency: dict[str, str] = {}
    outsiders = 0

    def of(agency: str) -> AgencyTotals:
        if agency not in totals:
            record = agencies[agency]
            totals[agency] = AgencyTotals(agency, record.name, record.jurisdiction)
        return totals[agency]

    for entry in ledger.get("events", {}).values():
        sender = str(entry.get("sender", ""))
        if entry.get("accepted") and entry.get("request_id"):
            request_agency[str(entry["request_id"])] = sender
        if not start <= int(entry.get("time_ms", 0)) < end:
            continue
        if sender not in agencies:
            outsiders += 1
            continue
        agency = of(sender)
        agency.requests_received += 1
        if entry.get("accepted"):
            agency.requests_shown += 1
            basis = str(entry.get("legal_basis", ""))
            agency.legal_bases[basis] = agency.legal_bases.get(basis, 0) + 1
            agency.case_numbers.append(str(entry.get("case_number", "")))
            agency.total_area_m2 += int(entry.get("area_m2", 0))
        else:
            code = str(entry.get("code", ""))
            agency.taken_down[code] = agency.taken_down.get(code, 0) + 1
    receipts: Counter[str] = Counter()
    clips: Counter[str] = Counter()
    for receipt in ledger.get("receipts", {}).values():
        if not start <= int(receipt.get("time_ms", 0)) < end:
            continue
        requester = request_agency.get(str(receipt.get("request_id")))
        if requester is None or requester not in agencies:
            continue
        receipts[requester] += 1
        clips[requester] += int(receipt.get("clip_count", 0))
    for sender in receipts:
        of(sender).share_receipts = receipts[sender]
        of(sender).clips_shared = clips[sender]
    for agency in totals.values():
        agency.case_numbers.sort()
    return TransparencyReport(
        group=group,
        period=period,
        agencies=sorted(totals.values(), key=lambda t: t.agency),
        requests_from_non_agencies=outsiders,
        generated_ms=now_ms,
        complete=now_ms >= end,
    )


def report_html(report: TransparencyReport, periods: list[str]) -> str:
    """The report as a plain, accessible HTML page (a table per month, no scripts)."""
    e = html.escape
    title = f"Police requests in {report.group}, {report.period}"
    heads = (
        "Agency",
        "Jurisdiction",
        "Requests received",
        "Shown to households",
        "Taken down (why)",
        "Legal bases",
        "Case numbers",
        "Total area (km²)",
        "Households that shared",
        "Clips shared",
    )
    rows = []
    for t in report.agencies:
        downs = ", ".join(f"{c}: {n}" for c, n in sorted(t.taken_down.items())) or "none"
        bases = ", ".join(f"{b}: {n}" for b, n in sorted(t.legal_bases.items())) or "none"
        cells = (
            t.name,
            t.jurisdiction,
            str(t.requests_received),
            str(t.requests_shown),
            f"{sum(t.taken_down.values())} ({downs})",
            bases,
            ", ".join(t.case_numbers) or "none",
            f"{t.total_area_m2 / 1e6:.2f}",
            str(t.share_receipts),
            str(t.clips_shared),
        )
        rows.append(
            '<tr><th scope="row">'
            + e(cells[0])
            + "</th>"
            + "".join(f"<td>{e(c)}</td>" for c in cells[1:])
            + "</tr>"
        )
    body = (
        "<table><caption>Requests per agency</caption><thead><tr>"
        + "".join(f'<th scope="col">{e(h)}</th>' for h in heads)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        if rows
        else "<p>No agency sent a request in this month.</p>"
    )
    state = (
        "The month is over; these are its final totals."
        if report.complete
        else ("The month is not over: these are the totals so far.")
    )
    outsiders = (
        f"<p>{report.requests_from_non_agencies} requests from senders that are not admitted "
        "agencies were taken down.</p>"
        if report.requests_from_non_agencies
        else ""
    )
    months = "".join(
        f'<li><a href="{e(p)}">{e(p)}</a> (<a href="{e(p)}.json">JSON</a>)</li>' for p in periods
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title></head><body><main>"
        f"<h1>{e(title)}</h1><p>{e(state)} Only totals are published: no household is "
        "named, and nothing tells which homes were asked or which declined.</p>"
        f"{body}{outsiders}<h2>Months</h2><ul>{months}</ul></main></body></html>\n"
    )
