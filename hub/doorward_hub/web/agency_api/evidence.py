"""Evidence: the clips households shared, their verification, download and deletion (each
download and deletion lands in the agency's audit log with the officer who did it)."""

from __future__ import annotations

from aiohttp import web

from doorward_hub.police.evidence import EvidenceItem, EvidenceNotFound
from doorward_hub.web.agency_api.keys import AGENCY_HUB, AGENCY_PREFIX, OFFICER
from doorward_hub.web.errors import ApiError
from doorward_hub.web.operations import Reply, Routes, string
from doorward_hub.wire.agency import EvidenceInfo, EvidenceList
from doorward_hub.wire.objects import utc

EVIDENCE_ID = string("evidence_id", "path", "the item's id, as the evidence route lists it")
REASON = string("reason", "query", "why it is deleted before its retention ends (audit log)")
_NOT_FOUND = Reply(404, "no such item is kept (`not_found`): never received, or deleted")

routes = Routes(AGENCY_PREFIX)


def wire_evidence(item: EvidenceItem) -> EvidenceInfo:
    """An item as the API lists it: the manifest's facts, never the sender's account."""
    hub_key = (item.manifest or {}).get("hub_key")
    return EvidenceInfo(
        evidence_id=item.evidence_id,
        request_id=item.request_id,
        case_number=item.case_number,
        verified=item.verified,
        verification=item.verification,
        received=utc(item.received_ms / 1000),
        expires=utc(item.expires_ms / 1000),
        sha256=item.sha256,
        hub_key_id=str(hub_key["key_id"]) if isinstance(hub_key, dict) else None,
        downloadable=item.file is not None,
    )


@routes.get(
    "/evidence",
    summary="The evidence kept, oldest first, verified or not",
    replies=(Reply(200, "the items", EvidenceList),),
)
async def list_evidence(request: web.Request) -> web.Response:
    """Every item kept until its retention ends."""
    items = request.config_dict[AGENCY_HUB].evidence.items()
    return web.json_response(EvidenceList([wire_evidence(i) for i in items]).to_dict())


@routes.get(
    "/evidence/{evidence_id}/clip",
    summary="Download a clip (logged as `evidence.downloaded` with the officer)",
    params=(EVIDENCE_ID,),
    replies=(Reply(200, "the clip as the household shared it", "video/mp4"), _NOT_FOUND),
)
async def download_evidence(request: web.Request) -> web.StreamResponse:
    """The clip's bytes, exactly as verified (SHA-256 as listed)."""
    evidence_id = EVIDENCE_ID.value(request, "")
    store = request.config_dict[AGENCY_HUB].evidence
    try:
        path = await store.open(evidence_id, request[OFFICER].actor, download=True)
    except EvidenceNotFound as err:
        raise ApiError(404, "not_found", str(err)) from None
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "video/mp4",
            "Content-Disposition": f'attachment; filename="{evidence_id}.mp4"',
        },
    )


@routes.delete(
    "/evidence/{evidence_id}",
    summary="Delete an item before its retention ends (logged as `evidence.deleted`)",
    params=(EVIDENCE_ID, REASON),
    replies=(Reply(204, "deleted"), _NOT_FOUND),
)
async def delete_evidence(request: web.Request) -> web.Response:
    """Delete the clip and its record."""
    store = request.config_dict[AGENCY_HUB].evidence
    try:
        await store.delete(
            EVIDENCE_ID.value(request, ""),
            request[OFFICER].actor,
            REASON.value(request, "deleted by an officer"),
        )
    except EvidenceNotFound as err:
        raise ApiError(404, "not_found", str(err)) from None
    return web.Response(status=204)
