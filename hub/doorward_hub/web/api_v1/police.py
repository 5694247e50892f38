"""The police request routes of the hub API: the requests shown to this household, its answers
and its automatic decline rules. Each answer is one call for one person's decision about one
request; nothing shares on its own, rules can only decline (DESIGN.md, invariant 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from doorward_hub.neighborhood.service import NeighborhoodError, NeighborhoodService
from doorward_hub.police.decline_rules import DeclineRules
from doorward_hub.police.pending import AnswerError, PendingRequest
from doorward_hub.protocol import API_PREFIX
from doorward_hub.web.api_v1.auth import TOKEN_ID
from doorward_hub.web.errors import ApiError
from doorward_hub.web.keys import NEIGHBORHOOD
from doorward_hub.web.operations import Body, Reply, Routes, string
from doorward_hub.web.requests import read_body
from doorward_hub.wire import bodies, objects
from doorward_hub.wire.objects import PoliceAnswer, PoliceRequest, PoliceRequestList

if TYPE_CHECKING:
    from doorward_hub.police.household import HouseholdRequests

REQUEST_ID = string("request_id", "path", "the request's id, as the requests route lists it")
NOT_READY = Reply(409, "not in a group (`not_joined`) or removed from it (`removed`)")
_STATUS = {
    "not_found": 404,
    "not_pending": 409,
    "expired": 409,
    "not_matching": 400,
    "no_clips": 400,
    "invalid": 400,
    "not_joined": 409,
    "removed": 409,
    "not_ready": 503,
    "homeserver_unreachable": 502,
    "homeserver_refused": 502,
}

routes = Routes(API_PREFIX)


def _requests(request: web.Request) -> HouseholdRequests:
    service: NeighborhoodService = request.config_dict[NEIGHBORHOOD]
    try:
        return service.police
    except NeighborhoodError as err:
        raise ApiError(_STATUS.get(err.code, 502), err.code, str(err)) from err


def wire_request(item: PendingRequest, held: set[str]) -> PoliceRequest:
    """A pending request as the API and the WebSocket show it."""
    request = item.request
    return PoliceRequest(
        request_id=request.request_id,
        agency=request.agency,
        agency_name=item.agency_name or request.agency,
        agency_jurisdiction=item.agency_jurisdiction,
        case_number=request.case_number,
        incident_type=request.incident_type,
        description=request.description,
        legal_basis=request.legal_basis,
        has_warrant=request.warrant is not None,
        area_cells=len(request.area_cells),
        area_m2=request.area_m2,
        window_start_ms=request.window_start_ms,
        window_end_ms=request.window_end_ms,
        expires_ms=request.expires_ms,
        contact=request.contact,
        received_ms=item.received_ms,
        state=item.state,
        clip_ids=list(item.clip_ids),
        shared_clip_ids=list(item.shared_clip_ids),
        held_clip_ids=[
            clip_id for clip_id in item.clip_ids if item.state == "pending" and clip_id in held
        ],
        declined_by_rule=item.declined_by_rule,
        decline_reason=item.decline_reason,
    )


@routes.get(
    "/police/requests",
    summary="The police requests shown to this household, newest first",
    replies=(Reply(200, "the requests", PoliceRequestList), NOT_READY),
)
async def police_requests(request: web.Request) -> web.Response:
    """Every request shown to this household (pending, answered, declined, expired)."""
    household = _requests(request)
    held = household.held_clip_ids()
    listed = PoliceRequestList([wire_request(item, held) for item in household.requests()])
    return web.json_response(listed.to_dict())


def _actor(request: web.Request) -> str:
    return f"client:{request[TOKEN_ID]}"


def _answer_error(err: AnswerError | NeighborhoodError) -> ApiError:
    return ApiError(_STATUS.get(err.code, 502), err.code, str(err))


@routes.post(
    "/police/requests/{request_id}/answer",
    summary="Share all or a chosen subset of the request's matching clips with the agency: one "
    "call is one person's decision about one request",
    params=(REQUEST_ID,),
    body=Body(bodies.POLICE_ANSWER, "which clips, how long the agency may keep them"),
    replies=(
        Reply(201, "shared", PoliceAnswer),
        Reply(400, "the body breaks its schema, or a clip does not match (`not_matching`)"),
        Reply(404, "no such request was shown to this hub (`not_found`)"),
        Reply(409, "already answered or declined (`not_pending`), or `expired`"),
        Reply(502, "the homeserver cannot be reached or refused"),
        Reply(503, "the hub has not reached the group yet (`not_ready`)"),
    ),
)
async def answer_police_request(request: web.Request) -> web.Response:
    """Share the chosen clips with the agency (all matching ones when none are named)."""
    body = await read_body(request)
    try:
        result = await _requests(request).answer(
            str(REQUEST_ID.value(request, "")),
            _actor(request),
            body["clip_ids"],
            retention_days=body["retention_days"],
            message=body["message"],
        )
    except AnswerError as err:
        raise _answer_error(err) from err
    answer = PoliceAnswer(result.request_id, result.shared_clip_ids, result.references)
    return web.json_response(answer.to_dict(), status=201)


@routes.post(
    "/police/requests/{request_id}/decline",
    summary="Decline the request: nothing is sent to anyone; the audit log records it",
    params=(REQUEST_ID,),
    replies=(
        Reply(204, "declined"),
        Reply(404, "no such request was shown to this hub (`not_found`)"),
        Reply(409, "already answered or declined (`not_pending`), or `expired`"),
        Reply(503, "the hub has not reached the group yet (`not_ready`)"),
    ),
)
async def decline_police_request(request: web.Request) -> web.Response:
    """Decline: nothing leaves the hub."""
    try:
        await _requests(request).decline(str(REQUEST_ID.value(request, "")), _actor(request))
    except AnswerError as err:
        raise _answer_error(err) from err
    return web.Response(status=204)


def wire_rules(rules: DeclineRules) -> objects.DeclineRules:
    """The decline rules as the API shows them."""
    return objects.DeclineRules(
        require_warrant=rules.require_warrant,
        allowed_agencies=None if rules.allowed_agencies is None else list(rules.allowed_agencies),
        max_area_m2=rules.max_area_m2,
        max_window_minutes=rules.max_window_minutes,
    )


@routes.get(
    "/police/decline-rules",
    summary="The household's automatic decline rules (they can only decline, never share)",
    replies=(Reply(200, "the rules", objects.DeclineRules),),
)
async def get_decline_rules(request: web.Request) -> web.Response:
    """The rules in force (in a group or not)."""
    service: NeighborhoodService = request.config_dict[NEIGHBORHOOD]
    return web.json_response(wire_rules(service.decline_rules.current()).to_dict())


@routes.put(
    "/police/decline-rules",
    summary="Replace the household's automatic decline rules; they apply to requests that "
    "arrive from now on",
    body=Body(bodies.DECLINE_RULES, "every rule; null turns a rule off"),
    replies=(
        Reply(200, "the rules now in force", objects.DeclineRules),
        Reply(400, "the body breaks its schema"),
    ),
)
async def put_decline_rules(request: web.Request) -> web.Response:
    """Keep the new rules."""
    body = await read_body(request)
    agencies = body["allowed_agencies"]
    rules = DeclineRules(
        require_warrant=body["require_warrant"],
        allowed_agencies=None if agencies is None else tuple(dict.fromkeys(agencies)),
        max_area_m2=body["max_area_m2"],
        max_window_minutes=body["max_window_minutes"],
    )
    service: NeighborhoodService = request.config_dict[NEIGHBORHOOD]
    await service.decline_rules.replace(rules)
    return web.json_response(wire_rules(rules).to_dict())
