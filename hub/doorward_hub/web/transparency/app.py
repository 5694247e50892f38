"""The public transparency report of a group: JSON and a plain HTML page per month.

Anyone may read it (it is public by design), so it holds totals only; no page or document names
a household, its account, device or rooms (`police/transparency.py`).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from doorward_hub.police.transparency import InvalidPeriod, period_bounds, report_html
from doorward_hub.police.transparency_publisher import TransparencyPublisher
from doorward_hub.web.errors import ApiError, error_middleware

TRANSPARENCY_PREFIX: Final = "/transparency"
REPORTS: web.AppKey[TransparencyPublisher] = web.AppKey("reports", TransparencyPublisher)


def _period(request: web.Request) -> str:
    period = request.match_info.get("period", "")
    try:
        period_bounds(period)
    except InvalidPeriod as err:
        raise ApiError(404, "not_found", str(err)) from None
    return period


async def latest(request: web.Request) -> web.StreamResponse:
    """The current month's page."""
    raise web.HTTPFound(f"{TRANSPARENCY_PREFIX}/{request.app[REPORTS].periods()[0]}")


async def page(request: web.Request) -> web.Response:
    """One month as HTML."""
    reports = request.app[REPORTS]
    report = await reports.report(_period(request))
    return web.Response(
        text=report_html(report, reports.periods()), content_type="text/html", charset="utf-8"
    )


async def document(request: web.Request) -> web.Response:
    """One month as JSON (the `org.doorward.transparency` content)."""
    report = await request.app[REPORTS].report(_period(request))
    return web.json_response(report.to_content())


def create_app(reports: TransparencyPublisher) -> web.Application:
    """The public pages of the group's reports."""
    app = web.Application(middlewares=[error_middleware])
    app[REPORTS] = reports
    app.router.add_get(TRANSPARENCY_PREFIX, latest)
    app.router.add_get(TRANSPARENCY_PREFIX + "/{period:[0-9]{4}-[0-9]{2}}.json", document)
    app.router.add_get(TRANSPARENCY_PREFIX + "/{period:[0-9]{4}-[0-9]{2}}", page)
    return app
