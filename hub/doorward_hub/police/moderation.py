"""The group bot's check of every police request posted in the group's `requests` room.

Power levels cannot keep anyone from sending an encrypted `org.doorward.request`, so the bot
reads each one and takes down (redacts) every request that is malformed, replayed, not from an
active agency's own device, or outside the group's policy, and tells the room why in a notice
the agency sees. Accepted and refused requests go to the group host's audit log and its request
ledger (the transparency report counts from there). Households check the same rules themselves:
the bot's take-down is for the people reading the room, not the only line of defence.

The same bot counts share receipts (`receipts.py`) and publishes the transparency report after
each month (`transparency_publisher.py`); `run` is the `group moderate`/`group serve` loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from canonicaljson import encode_canonical_json

from ..audit.log import AuditLog
from ..core.backoff import Backoff
from ..core.files import read_json, write_json_atomically
from ..neighborhood.account import checked
from ..neighborhood.errors import MatrixError
from ..neighborhood.group_host import GroupHost
from ..neighborhood.membership import GroupEvent, JoinedGroup, Membership
from .event_types import REJECTION, REQUEST, InvalidContent, PoliceRequest
from .group_state import GroupRules, read_group_rules, sent_by_own_device
from .policy import Refusal, request_refusal
from .receipts import ReceiptCounter
from .transparency_publisher import TransparencyPublisher

_LOGGER = logging.getLogger(__name__)

LEDGER_FILE: Final = "requests.json"
"""In the host's folder: every request the bot decided on (transparency counts from it)."""
RETRY_START_S: Final = 1.0
RETRY_MAX_S: Final = 60.0
SYNC_TIMEOUT_MS: Final = 30_000


@dataclass(frozen=True)
class Decision:
    """What the bot decided about one request event."""

    event_id: str
    sender: str
    request_id: str | None
    refusal: Refusal | None


def content_digest(content: dict[str, Any]) -> str:
    """SHA-256 of a request's canonical JSON (tells a replay from an altered copy)."""
    return hashlib.sha256(encode_canonical_json(content)).hexdigest()


class RequestModerator:
    """Syncs the group admin's account and decides on every request in `requests`."""

    def __init__(
        self, host: GroupHost, audit: AuditLog, clock: Callable[[], float] = time.time
    ) -> None:
        """Moderate the group `host` created; log to `audit`."""
        group = host.group()
        self._host = host
        self._audit = audit
        self._clock = clock
        self._requests_room = group.rooms["requests"]
        watched = {"requests": group.rooms["requests"], "admins": group.rooms["admins"]}
        ledger = host.folder / LEDGER_FILE
        self.receipts = ReceiptCounter(host, audit, ledger)
        """Share receipts from member hubs (their rooms are watched too)."""
        self.transparency = TransparencyPublisher(host, audit, ledger, clock)
        """The transparency report, published after each month."""
        watched |= self.receipts.rooms()
        self._membership = Membership(
            host.folder,
            host.client,
            JoinedGroup(group.name, group.space_id, watched, str(host.client.user_id)),
        )
        self.decisions: list[Decision] = []
        """This run's decisions, oldest first (the ledger keeps all of them)."""

    async def sync_once(self, timeout_ms: int = 0) -> list[Decision]:
        """One sync; the decisions it led to."""
        before = len(self.decisions)
        await self._membership.sync_once(self._decide_all, timeout_ms=timeout_ms)
        await self.receipts.accept_rooms(self._membership)
        return self.decisions[before:]

    async def run(
        self, synced: Callable[[], None] = lambda: None, backoff: Backoff | None = None
    ) -> None:
        """Moderate until cancelled. A homeserver outage pauses it (capped back-off, by default
        from `RETRY_START_S` up to `RETRY_MAX_S`); nothing a peer sends ends it. `synced` is
        called after each successful sync."""
        backoff = backoff or Backoff(RETRY_START_S, RETRY_MAX_S)
        while True:
            try:
                await self.sync_once(timeout_ms=SYNC_TIMEOUT_MS)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # an outage, or a fault a peer's event provoked
                wait = backoff.next_wait()
                _LOGGER.warning(
                    "request moderation sync failed (%r); retrying in %.0f s", err, wait
                )
                await asyncio.sleep(wait)
                continue
            backoff.reset()
            try:
                await self.transparency.publish_due()
            except (MatrixError, OSError, TimeoutError) as err:
                _LOGGER.warning("publishing the transparency report failed (%r)", err)
            synced()

    async def _decide_all(self, events: list[GroupEvent]) -> None:
        await self._decide_requests(events)
        await self.receipts.count(events)

    async def _decide_requests(self, events: list[GroupEvent]) -> None:
        requests = [
            event
            for event in events
            if event.room_id == self._requests_room
            and event.type == REQUEST
            and event.state_key is None
            and event.sender != self._host.client.user_id
        ]
        if not requests:
            return
        rules = await read_group_rules(self._host.client, self._host.group().space_id)
        ledger: dict[str, Any] = read_json(self._host.folder / LEDGER_FILE) or {}
        for event in requests:
            if event.event_id in ledger.get("events", {}):
                continue  # decided before a restart; the sync replayed it
            try:
                decision = await self._decide(event, rules, ledger)
            except (MatrixError, OSError, TimeoutError):
                raise  # the homeserver's fault: decided again after the pause
            except Exception:  # a request crafted to trip the bot is refused, not obeyed
                _LOGGER.exception("could not decide on request %s", event.event_id)
                refusal = Refusal("malformed", "the group bot could not read the request")
                decision = Decision(event.event_id, event.sender, None, refusal)
            await self._record(event, decision, ledger)
            self.decisions.append(decision)

    async def _decide(
        self, event: GroupEvent, rules: GroupRules, ledger: dict[str, Any]
    ) -> Decision:
        try:
            request = PoliceRequest.from_content(event.content)
        except InvalidContent as err:
            return Decision(event.event_id, event.sender, None, Refusal("malformed", str(err)))
        refusal = request_refusal(
            request,
            sender=event.sender,
            event_ms=event.timestamp_ms,
            policy=rules.policy,
            agencies=rules.agencies,
            now_ms=int(self._clock() * 1000),
        )
        if refusal is None:
            refusal = await self._device_refusal(event)
        if refusal is None:
            seen = ledger.get("requests", {}).get(f"{event.sender}|{request.request_id}")
            if seen is not None:
                altered = seen["digest"] != content_digest(event.content)
                what = "an altered copy" if altered else "a copy"
                refusal = Refusal(
                    "replayed", f"{what} of request {request.request_id}, already sent"
                )
        return Decision(event.event_id, event.sender, request.request_id, refusal)

    async def _device_refusal(self, event: GroupEvent) -> Refusal | None:
        if not event.was_encrypted:
            return Refusal("not_encrypted", "requests must be end-to-end encrypted")
        client = self._host.client
        if not sent_by_own_device(client, event.sender, event.sender_key):
            if client.should_query_keys:  # the sender's devices may be new to us
                checked(await client.keys_query(), "fetching the agency's device keys")
            if not sent_by_own_device(client, event.sender, event.sender_key):
                return Refusal(
                    "unknown_device", "the request was not encrypted by the agency's own device"
                )
        return None

    async def _record(self, event: GroupEvent, decision: Decision, ledger: dict[str, Any]) -> None:
        refusal = decision.refusal
        entry: dict[str, Any] = {
            "sender": event.sender,
            "request_id": decision.request_id,
            "accepted": refusal is None,
            "code": refusal.code if refusal else None,
            "time_ms": event.timestamp_ms,
        }
        if refusal is None:
            request = PoliceRequest.from_content(event.content)
            entry |= {
                "case_number": request.case_number,
                "legal_basis": request.legal_basis,
                "area_m2": request.area_m2,
                "window_minutes": request.window_minutes,
            }
        else:
            await self._take_down(event, decision, refusal)
        if decision.request_id is not None and (refusal is None or refusal.code != "replayed"):
            ledger.setdefault("requests", {})[f"{event.sender}|{decision.request_id}"] = {
                "event_id": event.event_id,
                "digest": content_digest(event.content),
            }
        ledger.setdefault("events", {})[event.event_id] = entry
        write_json_atomically(self._host.folder / LEDGER_FILE, ledger)
        await self._audit.append(
            "request.accepted" if refusal is None else "request.refused",
            event.sender,
            f"request:{decision.request_id or event.event_id}",
            {
                "event_id": event.event_id,
                **({"code": refusal.code, "reason": refusal.reason} if refusal else {}),
            },
        )

    async def _take_down(self, event: GroupEvent, decision: Decision, refusal: Refusal) -> None:
        client = self._host.client
        checked(
            await client.room_redact(
                self._requests_room, event.event_id, f"{refusal.code}: {refusal.reason}"
            ),
            "taking down a refused request",
        )
        notice = {
            "msgtype": "m.notice",
            "body": (
                f"The group bot took down a police request from {event.sender}: {refusal.reason}."
            ),
            REJECTION: {
                "event_id": event.event_id,
                "request_id": decision.request_id,
                "agency": event.sender,
                "code": refusal.code,
                "reason": refusal.reason,
            },
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
        }
        checked(
            await client.room_send(
                self._requests_room, "m.room.message", notice, ignore_unverified_devices=True
            ),
            "telling the agency why its request was taken down",
        )
