"""Stored events: pages of history and the picture of each press."""

from __future__ import annotations

from aiohttp import web

from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.api_v1.doorbells import UNKNOWN
from doorward_hub.web.errors import fail
from doorward_hub.web.keys import DOORBELLS, EVENTS, SNAPSHOTS
from doorward_hub.web.operations import Reply, Routes, integer, string
from doorward_hub.wire.objects import MAX_ID, Event, EventPage

MAX_EVENTS_PAGE = 500

AFTER = integer("after", "query", 0, MAX_ID, "events with a larger seq (default 0: from the start)")
LIMIT = integer("limit", "query", 1, MAX_EVENTS_PAGE, "page size (default 100)")
DOORBELL = string("doorbell", "query", "only this doorbell's events")
SEQ = integer("seq", "path", 1, MAX_ID, "the event's seq")

routes = Routes(API_PREFIX)


@routes.get(
    "/events",
    summary="A page of stored events, oldest first",
    params=(AFTER, LIMIT, DOORBELL),
    replies=(Reply(200, "the page", EventPage), UNKNOWN),
)
async def list_events(request: web.Request) -> web.Response:
    """A page of stored events, oldest first; page by passing the last seq as `after`."""
    after = AFTER.value(request, 0)
    limit = LIMIT.value(request, 100)
    doorbell_id = DOORBELL.get(request)
    if doorbell_id is not None:
        request.config_dict[DOORBELLS].get(doorbell_id)
    stored = request.config_dict[EVENTS]
    events = await stored.events_after(after, limit + 1, doorbell_id)
    page = EventPage(
        events=[Event.of(e) for e in events[:limit]],
        last_seq=await stored.last_seq(),
        more=len(events) > limit,
    )
    return web.json_response(page.to_dict())


@routes.get(
    "/events/{seq}/snapshot",
    summary="The picture taken when the event happened",
    params=(SEQ,),
    replies=(
        Reply(200, "the picture", "image/jpeg"),
        Reply(404, "no picture stored for that event (`no_snapshot`)"),
    ),
)
async def event_snapshot(request: web.Request) -> web.Response:
    """The picture taken when the event happened."""
    seq = SEQ.value(request, 0)
    jpeg = await request.config_dict[SNAPSHOTS].load(seq)
    if jpeg is None:
        fail(404, "no_snapshot", f"no snapshot stored for event {seq}")
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )
