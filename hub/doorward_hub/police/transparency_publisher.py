"""Publishing the group's transparency report: `org.doorward.transparency` on the space (state
key = the month) and a readable notice in `requests`, on request and once a month has ended.
The counting and the report's shape are in `transparency.py`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ..audit.log import AuditLog
from ..core.files import read_json, write_json_atomically
from ..neighborhood.account import checked
from ..neighborhood.errors import MatrixError
from ..neighborhood.event_types import TRANSPARENCY
from ..neighborhood.group_host import GroupHost
from .event_types import AgencyRecord
from .group_state import read_group_rules
from .transparency import (
    TransparencyReport,
    build_report,
    period_bounds,
    period_of,
    previous_period,
)

_LOGGER = logging.getLogger(__name__)

PUBLISHED_FILE: Final = "transparency.json"
"""In the host's folder: when each month's report was last published."""


class TransparencyPublisher:
    """Reports from the bot's ledger, published in the group."""

    def __init__(
        self,
        host: GroupHost,
        audit: AuditLog,
        ledger: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Report from `ledger` (the bot's request ledger) about the group `host` created."""
        self._host = host
        self._audit = audit
        self._ledger = ledger
        self._clock = clock
        self._agencies: dict[str, AgencyRecord] = {}

    async def report(self, period: str) -> TransparencyReport:
        """The report of `period` (`YYYY-MM`) as of now, with the agencies as the space names
        them (as last read while the homeserver cannot be reached)."""
        try:
            rules = await read_group_rules(self._host.client, self._host.group().space_id)
            self._agencies = rules.agencies
        except (MatrixError, OSError, TimeoutError) as err:
            _LOGGER.warning("reading the group's agencies failed (%r); using the last read", err)
        ledger: dict[str, Any] = read_json(self._ledger) or {}
        now = int(self._clock() * 1000)
        return build_report(self._host.group().name, period, ledger, self._agencies, now)

    def periods(self) -> list[str]:
        """Every month the ledger has entries in, newest first (the current one always)."""
        ledger: dict[str, Any] = read_json(self._ledger) or {}
        times = [int(e.get("time_ms", 0)) for e in ledger.get("events", {}).values()]
        times += [int(r.get("time_ms", 0)) for r in ledger.get("receipts", {}).values()]
        now = int(self._clock() * 1000)
        return sorted({period_of(t) for t in [*times, now]}, reverse=True)

    async def publish(self, period: str) -> TransparencyReport:
        """Publish the report of `period` in the space and as a notice in `requests`."""
        client = self._host.client
        group = self._host.group()
        report = await self.report(period)
        checked(
            await client.room_put_state(
                group.space_id, TRANSPARENCY, report.to_content(), state_key=period
            ),
            "publishing the transparency report",
        )
        checked(
            await client.room_send(
                group.rooms["requests"],
                "m.room.message",
                {"msgtype": "m.notice", "body": report.summary()},
                ignore_unverified_devices=True,
            ),
            "posting the transparency report",
        )
        published: dict[str, int] = read_json(self._host.folder / PUBLISHED_FILE) or {}
        published[period] = report.generated_ms
        write_json_atomically(self._host.folder / PUBLISHED_FILE, published)
        await self._audit.append(
            "transparency.published", str(client.user_id), f"period:{period}",
            {"complete": report.complete},
        )  # fmt: skip
        return report

    async def publish_due(self) -> TransparencyReport | None:
        """Publish last month's report once it has ended, unless its complete report is out or
        the ledger holds nothing up to then."""
        last = previous_period(period_of(int(self._clock() * 1000)))
        published: dict[str, int] = read_json(self._host.folder / PUBLISHED_FILE) or {}
        if published.get(last, 0) >= period_bounds(last)[1]:
            return None
        if not any(p <= last for p in self.periods()):
            return None
        return await self.publish(last)
