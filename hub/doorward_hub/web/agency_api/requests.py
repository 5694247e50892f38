"""Requests: send one to the group, list those sent with what the group did and what arrived."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections import defaultdict
from typing import Any

import aiohttp
from aiohttp import web

from doorward_hub.neighborhood.errors import MatrixError
from doorward_hub.police.agency import AgencyHub, RequestDraft
from doorward_hub.police.area import InvalidArea
from doorward_hub.police.event_types import InvalidContent, WarrantDocument
from doorward_hub.police.warrant_documents import InvalidWarrant
from doorward_hub.police.warrants import upload_warrant
from doorward_hub.web.agency_api.keys import AGENCY_HUB, AGENCY_PREFIX, OFFICER
from doorward_hub.web.errors import ApiError
from doorward_hub.web.operations import Body, Reply, Routes
from doorward_hub.web.requests import read_body
from doorward_hub.wire.agency import (
    AGENCY_REQUEST,
    RequestSent,
    SentRequestInfo,
    SentRequestList,
    TakeDown,
)
from doorward_hub.wire.objects import utc

routes = Routes(AGENCY_PREFIX)

HOMESERVER_FAILURES = (MatrixError, aiohttp.ClientError, OSError, TimeoutError)
"""What nio raises or returns when the homeserver refuses or cannot be reached."""


@routes.post(
    "/requests",
    summary="Send a footage request to the group's households",
    body=Body(AGENCY_REQUEST, "the request; the hub turns the polygon into H3 cells"),
    replies=(
        Reply(201, "sent to the group (its bot may still take it down)", RequestSent),
        Reply(400, "a field is missing or invalid (the message names it)"),
        Reply(413, "the body is larger than 6 MiB (a warrant document is at most 4 MiB)"),
        Reply(502, "the homeserver cannot be reached or refused (`homeserver_error`)"),
    ),
)
async def send_request(request: web.Request) -> web.Response:
    """Send one request; the group's bot checks it against the group's policy."""
    body = await read_body(request)
    window = body["window"]
    if window["end"] <= window["start"]:
        raise ApiError(400, "invalid_request", "window: end must be after start")
    draft = RequestDraft(
        case_number=body["case_number"],
        incident_type=body["incident_type"],
        description=body["description"],
        legal_basis=body["legal_basis"],
        polygon=body["polygon"],
        window_start_ms=window["start"],
        window_end_ms=window["end"],
        valid_for_s=body["valid_for_hours"] * 3600,
        contact=body["contact"],
    )
    hub = request.config_dict[AGENCY_HUB]
    if "warrant" in body:
        draft = dataclasses.replace(draft, warrant=await _upload_warrant(hub, body["warrant"]))
    try:
        sent = await hub.send_request(draft, officer=request[OFFICER].actor)
    except InvalidArea as err:
        raise ApiError(400, "invalid_request", f"polygon: {err}") from None
    except InvalidContent as err:
        raise ApiError(400, "invalid_request", str(err)) from None
    except HOMESERVER_FAILURES as err:
        raise ApiError(502, "homeserver_error", f"the homeserver failed: {err}") from None
    made = sent.request
    result = RequestSent(
        request_id=made.request_id,
        event_id=sent.event_id,
        area_cells=len(made.area_cells),
        area_m2=made.area_m2,
        window_minutes=made.window_minutes,
        expires=utc(made.expires_ms / 1000),
    )
    return web.json_response(result.to_dict(), status=201)


async def _upload_warrant(hub: AgencyHub, document: dict[str, Any]) -> WarrantDocument:
    try:
        data = base64.b64decode(document["content_base64"], validate=True)
    except binascii.Error:
        raise ApiError(400, "invalid_request", "warrant.content_base64: not base64") from None
    try:
        return await upload_warrant(
            hub.membership.client, document["filename"], document["mimetype"], data
        )
    except InvalidWarrant as err:
        raise ApiError(400, "invalid_request", f"warrant: {err}") from None
    except HOMESERVER_FAILURES as err:
        raise ApiError(502, "homeserver_error", f"the homeserver failed: {err}") from None


@routes.get(
    "/requests",
    summary="The requests this agency sent, newest first, with take-downs and answers",
    replies=(Reply(200, "the requests", SentRequestList),),
)
async def list_requests(request: web.Request) -> web.Response:
    """Every request sent: the group bot's take-down if any, and how many answers and clips
    arrived (verified or not)."""
    hub = request.config_dict[AGENCY_HUB]
    senders: dict[str, set[str]] = defaultdict(set)
    clips: dict[str, int] = defaultdict(int)
    verified: dict[str, int] = defaultdict(int)
    for item in hub.evidence.items():
        senders[item.request_id].add(item.sender)
        clips[item.request_id] += 1
        verified[item.request_id] += item.verified
    listed = [
        SentRequestInfo(
            request_id=sent.request_id,
            case_number=sent.case_number,
            incident_type=sent.incident_type,
            legal_basis=sent.legal_basis,
            has_warrant=sent.has_warrant,
            area_m2=sent.area_m2,
            window_start=utc(sent.window_start_ms / 1000),
            window_end=utc(sent.window_end_ms / 1000),
            created=utc(sent.created_ms / 1000),
            expires=utc(sent.expires_ms / 1000),
            event_id=sent.event_id,
            taken_down=(
                TakeDown(sent.rejection.code, sent.rejection.reason) if sent.rejection else None
            ),
            answers=len(senders[sent.request_id]),
            clips=clips[sent.request_id],
            verified_clips=verified[sent.request_id],
        )
        for sent in hub.sent_requests()
    ]
    return web.json_response(SentRequestList(listed).to_dict())
