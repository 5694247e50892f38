"""Stored events: pages of history and the picture of each press."""

from __future__ import annotations

from aiohttp import web

from doorward_hub.web.errors import fail
from doorward_hub.web.keys import DOORBELLS, EVENTS, SNAPSHOTS
from doorward_hub.web.requests import int_query

MAX_EVENTS_PAGE = 500

routes = web.RouteTableDef()


@routes.get("/events")
async def list_events(request: web.Request) -> web.Response:
    """A page of stored events, oldest first."""
    after = int_query(request, "after", 0, 0, 2**62)
    limit = int_query(request, "limit", 100, 1, MAX_EVENTS_PAGE)
    doorbell_id = request.query.get("doorbell")
    if doorbell_id is not None:
        request.config_dict[DOORBELLS].get(doorbell_id)
    stored = request.config_dict[EVENTS]
    events = await stored.events_after(after, limit + 1, doorbell_id)
    return web.json_response(
        {
            "events": [e.to_json() for e in events[:limit]],
            "last_seq": await stored.last_seq(),
            "more": len(events) > limit,
        }
    )


@routes.get("/events/{seq}/snapshot")
async def event_snapshot(request: web.Request) -> web.Response:
    """The picture taken when the event happened."""
    try:
        seq = int(request.match_info["seq"])
    except ValueError:
        fail(400, "invalid_request", "seq: must be an integer")
    jpeg = await request.config_dict[SNAPSHOTS].load(seq)
    if jpeg is None:
        fail(404, "no_snapshot", f"no snapshot stored for event {seq}")
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )
