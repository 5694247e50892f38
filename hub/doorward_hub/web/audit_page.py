"""An audit log read through an API, newest entries first: the household's and the agency's
routes answer with the same page (`wire.objects.AuditPage`).

An audit log holds no secrets (no tokens, keys or passwords are ever written to one), so whoever
may use the API may read it whole; its hash chain is checked on every read.
"""

from __future__ import annotations

from aiohttp import web

from doorward_hub.audit.log import AuditLogBroken
from doorward_hub.web.errors import ApiError
from doorward_hub.web.keys import AUDIT
from doorward_hub.web.operations import Reply, integer
from doorward_hub.wire.objects import AuditEntry, AuditPage, utc

MAX_AUDIT_PAGE = 1000
DEFAULT_AUDIT_PAGE = 100

LIMIT = integer("limit", "query", 1, MAX_AUDIT_PAGE, f"how many (default {DEFAULT_AUDIT_PAGE})")
REPLIES = (
    Reply(200, "the entries", AuditPage),
    Reply(500, "the log's hash chain does not hold (`audit_log_broken`)"),
)


async def audit_page(request: web.Request) -> web.Response:
    """The newest `limit` entries of the server's audit log (`AUDIT`), newest first, after
    checking the whole chain."""
    limit = LIMIT.value(request, DEFAULT_AUDIT_PAGE)
    try:
        entries = await request.config_dict[AUDIT].entries()
    except AuditLogBroken as err:
        raise ApiError(500, "audit_log_broken", str(err)) from err
    page = AuditPage(
        [
            AuditEntry(
                seq=entry.seq,
                time=utc(entry.time_ms / 1000),
                action=entry.action,
                actor=entry.actor,
                subject=entry.subject,
                details=entry.details,
                hash=entry.hash,
            )
            for entry in reversed(entries[-limit:])
        ]
    )
    return web.json_response(page.to_dict())
