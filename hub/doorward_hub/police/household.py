"""The household's side of police requests: receive, check, hold, answer by hand.

A request becomes a pending request only if every check holds on this hub: it comes from an
agency the group's admins list as active (server-enforced space state), from that agency's own
device, within the group's policy, not replayed; the area contains this home's cell (checked here,
the home never leaves); and stored clips overlap the window. Anything else goes to the audit log
only. Answering is a person's action per request: share all matching clips, a chosen subset, or
decline. The household's decline rules (`decline_rules.py`) may decline a request as it arrives;
nothing ever shares on its own: `answer` is the only place an `AnswerGrant` is made.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from nio.responses import RoomGetStateResponse

from ..audit.log import AuditLog
from ..core.files import private_folder, read_json, write_json_atomically
from ..exports.clip import ExportClip
from ..exports.exporter import Exporter, Grant
from ..exports.identity_key import IdentityKey
from ..exports.redaction_hook import Redactor
from ..neighborhood.account import checked
from ..neighborhood.errors import MatrixError
from ..neighborhood.membership import GroupEvent, Membership
from .answers import _MINT, AnswerDelivery, AnswerGrant, AnswerPart, send_share_receipt
from .area import contains_home
from .decline_rules import DeclineRules, DeclineRulesFile
from .event_types import REQUEST, InvalidContent, PoliceRequest, ShareReceipt
from .group_state import GroupRules, read_group_rules, sent_by_own_device
from .moderation import content_digest
from .pending import AnswerError, AnswerResult, PendingRequest, RequestListener
from .policy import Refusal, request_refusal
from .warrant_documents import WarrantFile
from .warrants import download_warrant

_LOGGER = logging.getLogger(__name__)

REQUESTS_FILE: Final = "requests.json"
MAX_MESSAGE: Final = 500


class ClipFinder(Protocol):
    """The recording library's clips that overlap a time window."""

    async def between(self, start_ms: int, end_ms: int) -> list[ExportClip]:
        """Clips whose time overlaps [start_ms, end_ms], oldest first."""
        ...


class HouseholdRequests:
    """One household hub's police requests, fed by its group membership's sync."""

    def __init__(
        self,
        folder: Path,
        membership: Membership,
        identity: IdentityKey,
        audit: AuditLog,
        clips: ClipFinder,
        *,
        home_cell: str | None,
        redactor: Redactor | None = None,
        decline_rules: DeclineRulesFile | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Keep requests in `folder`; `home_cell` is the home's resolution-9 cell (never sent);
        `decline_rules` are the household's automatic decline rules (None: none)."""
        self._folder = private_folder(folder)
        self._membership = membership
        self._identity = identity
        self._audit = audit
        self._clips = clips
        self._home_cell = home_cell
        self._redactor = redactor
        self._decline_rules = decline_rules
        self._clock = clock
        self._lock = asyncio.Lock()
        self._listeners: list[RequestListener] = []
        raw: dict[str, Any] = read_json(self._folder / REQUESTS_FILE) or {}
        self._seen: dict[str, str] = dict(raw.get("seen", {}))
        """`agency|request_id` -> content digest, for every request seen (replays)."""
        self._requests: dict[str, PendingRequest] = {
            key: PendingRequest.from_json(value) for key, value in raw.get("requests", {}).items()
        }

    def subscribe(self, listener: RequestListener) -> None:
        """Call `listener` with each request shown to this household as it arrives: pending, or
        declined by a decline rule (the hub's WebSocket, HA)."""
        self._listeners.append(listener)

    def requests(self) -> list[PendingRequest]:
        """Every request shown to this household, newest first, expiry applied."""
        now = self._now()
        for item in self._requests.values():
            if item.state == "pending" and item.request.expires_ms <= now:
                item.state = "expired"
        return sorted(self._requests.values(), key=lambda r: r.received_ms, reverse=True)

    def held_clip_ids(self) -> set[str]:
        """Clips that retention must keep: those matching a request still pending."""
        return {
            clip_id
            for item in self.requests()
            if item.state == "pending"
            for clip_id in item.clip_ids
        }

    async def __call__(self, events: list[GroupEvent]) -> None:
        """The membership's sink: act on the batch's requests (other events are ignored)."""
        room = self._membership.group.rooms.get("requests")
        requests = [
            event
            for event in events
            if event.room_id == room
            and event.type == REQUEST
            and event.state_key is None
            and event.sender != self._membership.client.user_id
        ]
        if not requests:
            return
        rules = await read_group_rules(self._membership.client, self._membership.group.space_id)
        async with self._lock:
            for event in requests:
                await self._receive(event, rules)

    async def _receive(self, event: GroupEvent, rules: GroupRules) -> None:
        if any(item.event_id == event.event_id for item in self._requests.values()):
            return  # the sync replayed a batch after a restart
        try:
            request = PoliceRequest.from_content(event.content)
        except InvalidContent as err:
            await self._refused(event, None, Refusal("malformed", str(err)))
            return
        refusal = request_refusal(
            request,
            sender=event.sender,
            event_ms=event.timestamp_ms,
            policy=rules.policy,
            agencies=rules.agencies,
            now_ms=self._now(),
        ) or await self._device_refusal(event)
        key = f"{event.sender}|{request.request_id}"
        digest = content_digest(event.content)
        if refusal is None and key in self._seen:
            what = "an altered copy" if self._seen[key] != digest else "a copy"
            refusal = Refusal("replayed", f"{what} of request {request.request_id}, seen before")
        if refusal is not None:
            await self._refused(event, request.request_id, refusal)
            return
        self._seen[key] = digest
        subject = f"request:{request.request_id}"
        details: dict[str, Any] = {
            "event_id": event.event_id,
            "case_number": request.case_number,
            "legal_basis": request.legal_basis,
        }
        if self._home_cell is None or not contains_home(request.area_cells, self._home_cell):
            self._save()
            await self._audit.append("request.not_for_us", event.sender, subject, details)
            return
        clips = await self._clips.between(request.window_start_ms, request.window_end_ms)
        if not clips:
            self._save()
            await self._audit.append("request.no_matching_clips", event.sender, subject, details)
            return
        agency = rules.agencies[event.sender]  # an active agency: the refusal checks said so
        pending = PendingRequest(
            request,
            event.event_id,
            self._now(),
            [clip.clip_id for clip in clips],
            agency_name=agency.name,
            agency_jurisdiction=agency.jurisdiction,
        )
        household_rules = self._decline_rules.current() if self._decline_rules else DeclineRules()
        declined = household_rules.decline(request)
        if declined is not None:
            pending.state = "declined"
            pending.answered_ms = pending.received_ms
            pending.declined_by_rule = declined.rule
            pending.decline_reason = declined.reason
        self._requests[key] = pending
        self._save()
        details |= {"clip_ids": pending.clip_ids}
        if declined is None:
            await self._audit.append("request.pending", event.sender, subject, details)
        else:
            await self._audit.append(
                "request.auto_declined",
                "household:decline_rules",
                subject,
                details | {"rule": declined.rule, "reason": declined.reason},
            )
        for listener in self._listeners:
            await listener(pending)

    async def _device_refusal(self, event: GroupEvent) -> Refusal | None:
        if not event.was_encrypted:
            return Refusal("not_encrypted", "requests must be end-to-end encrypted")
        client = self._membership.client
        if not sent_by_own_device(client, event.sender, event.sender_key):
            if client.should_query_keys:
                checked(await client.keys_query(), "fetching the agency's device keys")
            if not sent_by_own_device(client, event.sender, event.sender_key):
                return Refusal("unknown_device", "not encrypted by the agency's own device")
        return None

    async def _refused(self, event: GroupEvent, request_id: str | None, refusal: Refusal) -> None:
        await self._audit.append(
            "request.refused",
            event.sender,
            f"request:{request_id or event.event_id}",
            {"event_id": event.event_id, "code": refusal.code, "reason": refusal.reason},
        )

    async def answer(
        self,
        request_id: str,
        actor: str,
        clip_ids: Sequence[str] | None = None,
        *,
        retention_days: int | None = None,
        message: str = "",
    ) -> AnswerResult:
        """A person's answer: share the chosen clips (all matching ones if `clip_ids` is None)
        with the agency, each through the export pipeline, then tell the group bot the count."""
        if len(message) > MAX_MESSAGE:
            raise AnswerError("invalid", f"the message is longer than {MAX_MESSAGE} characters")
        async with self._lock:
            pending = self._pending(request_id)
            chosen = list(pending.clip_ids if clip_ids is None else dict.fromkeys(clip_ids))
            if not chosen:
                raise AnswerError("no_clips", "choose at least one clip, or decline")
            foreign = [c for c in chosen if c not in pending.clip_ids]
            if foreign:
                raise AnswerError(
                    "not_matching", f"clips {', '.join(foreign)} do not match this request"
                )
            rules = await read_group_rules(self._membership.client, self._membership.group.space_id)
            cap = rules.policy.max_export_retention_days
            keep_days = min(retention_days or cap, cap)
            found = {
                c.clip_id: c
                for c in await self._clips.between(
                    pending.request.window_start_ms, pending.request.window_end_ms
                )
            }
            missing = [c for c in chosen if c not in found]
            if missing:
                raise AnswerError("not_found", f"clips {', '.join(missing)} no longer exist")
            request = pending.request
            await self._audit.append(
                "request.answered",
                actor,
                f"request:{request.request_id}",
                {
                    "shared_clip_ids": chosen,
                    "declined_clip_ids": [c for c in pending.clip_ids if c not in chosen],
                    "retention_days": keep_days,
                },
            )
            exporter = Exporter(self._identity, self._audit, self._redactor, self._clock)
            references: list[str] = []
            for number, clip_id in enumerate(chosen, start=1):
                grant = AnswerGrant(_MINT, Grant.new(actor, clip_id, "police_answer"), request)
                delivery = AnswerDelivery(
                    self._membership, self._folder, grant, AnswerPart(number, len(chosen))
                )
                result = await exporter.export(
                    grant.grant,
                    found[clip_id],
                    delivery,
                    message,
                    keep_days,
                    request_id=request.request_id,
                    case_number=request.case_number,
                )
                references.append(result.reference)
                pending.shared_clip_ids.append(clip_id)
                self._save()
            pending.state = "answered"
            pending.answered_ms = self._now()
            self._save()
            bot = await self._group_bot()
            await send_share_receipt(
                self._membership, self._folder, bot, ShareReceipt(request.request_id, len(chosen))
            )
            return AnswerResult(request.request_id, chosen, references)

    async def decline(self, request_id: str, actor: str) -> None:
        """A person declines: nothing is sent to anyone; the audit log records it."""
        async with self._lock:
            pending = self._pending(request_id)
            pending.state = "declined"
            pending.answered_ms = self._now()
            self._save()
            await self._audit.append(
                "request.declined", actor, f"request:{request_id}", {"event_id": pending.event_id}
            )

    async def warrant(self, request_id: str, actor: str) -> WarrantFile:
        """The request's warrant document, decrypted for the person answering (logged as
        `warrant.viewed`); `AnswerError` `not_found`, `no_warrant` or `warrant_unavailable`."""
        shown = [r for r in self.requests() if r.request.request_id == request_id]
        if not shown:
            raise AnswerError("not_found", f"no request {request_id!r} was shown to this hub")
        document = shown[0].request.warrant
        if document is None:
            raise AnswerError("no_warrant", "the request carries no warrant document")
        try:
            found = await download_warrant(self._membership.client, document)
        except MatrixError as err:
            raise AnswerError("warrant_unavailable", str(err)) from err
        await self._audit.append(
            "warrant.viewed", actor, f"request:{request_id}",
            {"filename": found.filename, "mimetype": found.mimetype, "size": len(found.data)},
        )  # fmt: skip
        return found

    def _pending(self, request_id: str) -> PendingRequest:
        matches = [r for r in self.requests() if r.request.request_id == request_id]
        if not matches:
            raise AnswerError("not_found", f"no request {request_id!r} was shown to this hub")
        pending = matches[0]
        if pending.state == "expired":
            raise AnswerError("expired", "the request has expired; nothing can be sent")
        if pending.state != "pending":
            raise AnswerError("not_pending", f"the request was {pending.state} already")
        return pending

    async def _group_bot(self) -> str:
        """The group's creator (its host's bot), from the space's create event."""
        state = checked(
            await self._membership.client.room_get_state(self._membership.group.space_id),
            "reading the group's state",
        )
        assert isinstance(state, RoomGetStateResponse)
        return next(str(e["sender"]) for e in state.events if e.get("type") == "m.room.create")

    def _save(self) -> None:
        write_json_atomically(
            self._folder / REQUESTS_FILE,
            {
                "seen": self._seen,
                "requests": {key: item.to_json() for key, item in self._requests.items()},
            },
        )

    def _now(self) -> int:
        return int(self._clock() * 1000)
