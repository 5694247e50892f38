"""The public transparency report of a group: JSON and a plain HTML page per month.

Anyone may read it (it is public by design), so it holds totals only; no page or document names
a household, its account, device or rooms (`police/transparency.py`).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from doorward_hub.police.moderation import RequestModerator
from doorward_hub.police.transparency import InvalidPeriod, period_bounds, report_html
from doorward_hub.web.errors import ApiError, error_middleware

TRANSPARENCY_PREFIX: Final = "/transparency"
BOT: web.AppKey[RequestModerator] = web.AppKey("bot", RequestModerator)


def _period(request: web.Request) -> str:
    period = request.match_info.get("period", "")
    try:
        period_bounds(period)
    except InvalidPeriod as err:
        raise ApiError(404, "not_found", str(err)) from None
    return period


async def latest(request: web.Request) -> web.StreamResponse:
    """The current month's page."""
    bot = request.app[BOT]
    raise web.HTTPFound(f"{TRANSPARENCY_PREFIX}/{bot.periods()[0]}")


async def page(request: web.Request) -> web.Response:
    """One month as HTML."""
    bot = request.app[BOT]
    report = await bot.public_report(_period(request))
    return web.Response(
        text=report_html(report, bot.periods()), content_type="text/html", charset="utf-8"
    )


async def document(request: web.Request) -> web.Response:
    """One month as JSON (the `org.doorward.transparency` content)."""
    report = await request.app[BOT].public_report(_period(request))
    return web.json_response(report.to_content())


def create_app(bot: RequestModerator) -> web.Application:
    """The public pages of the group the bot moderates."""
    app = web.Application(middlewares=[error_middleware])
    app[BOT] = bot
    app.router.add_get(TRANSPARENCY_PREFIX, latest)
    app.router.add_get(TRANSPARENCY_PREFIX + "/{period:[0-9]{4}-[0-9]{2}}.json", document)
    app.router.add_get(TRANSPARENCY_PREFIX + "/{period:[0-9]{4}-[0-9]{2}}", page)
    return app
