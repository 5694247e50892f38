"""Police requests shown to the household, in Home Assistant.

The hub pushes each request it shows to this household (`police_request`: pending, or declined
by one of the household's decline rules) live only, so every (re)connection reads the list again
(`GET /api/v1/police/requests`). A request that is new to Home Assistant fires the hub's
`police_request` event entity. While a request is pending it has a persistent notification with
the request in full and a Repairs issue whose fix flow answers it (share all, choose clips, or
decline); both go away once it is answered, declined or expires.

Nothing here answers on its own: `async_answer` and `async_decline` run only from a person's
action (the `doorward.answer_request` / `doorward.decline_request` actions, the fix flow).
"""

import dataclasses
from collections.abc import Callable
from datetime import datetime

from homeassistant.components import persistent_notification
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .api import (
    DoorwardApiError,
    DoorwardAuthenticationError,
    DoorwardClient,
    DoorwardError,
    PoliceAnswer,
    PoliceRequest,
)
from .const import DOMAIN, LOGGER

STATE_PENDING = "pending"
STATE_EXPIRED = "expired"
# The hub's refusals of an answer to a request that is no longer open.
CLOSED = frozenset({"not_pending", "expired", "not_found"})
# The hub's refusals of the request list when the hub is not (or no longer) in a group.
NOT_IN_GROUP = {"not_joined", "removed"}


def request_issue_id(entry_id: str, request_id: str) -> str:
    """The Repairs issue (and persistent notification) of one pending request."""
    return f"police_request_{entry_id}_{request_id}"


def ms_time(milliseconds: int) -> datetime:
    """Milliseconds since the epoch as a local time."""
    return dt_util.as_local(dt_util.utc_from_timestamp(milliseconds / 1000))


def _when(milliseconds: int) -> str:
    return f"{ms_time(milliseconds):%Y-%m-%d %H:%M}"


def request_summary(request: PoliceRequest) -> dict[str, str]:
    """The request in full, as placeholders for notifications and the fix flow."""
    return {
        "agency": request.agency_name,
        "jurisdiction": request.agency_jurisdiction,
        "agency_id": request.agency,
        "case_number": request.case_number,
        "incident_type": request.incident_type,
        "description": request.description,
        "legal_basis": request.legal_basis,
        "warrant": "attached" if request.has_warrant else "not attached",
        "window_start": _when(request.window_start_ms),
        "window_end": _when(request.window_end_ms),
        "area_km2": f"{request.area_m2 / 1e6:.2f}",
        "count": str(len(request.clip_ids)),
        "expires": _when(request.expires_ms),
        "contact": request.contact,
        "request_id": request.request_id,
    }


def request_text(request: PoliceRequest) -> str:
    """The persistent notification's text: the whole request, readable."""
    s = request_summary(request)
    return (
        f"**{s['agency']}** ({s['jurisdiction']}; {s['agency_id']}) asks for footage for case "
        f"**{s['case_number']}** ({s['incident_type']}).\n\n"
        f"{s['description']}\n\n"
        f"- Legal basis: {s['legal_basis']}; warrant {s['warrant']}\n"
        f"- Time window: {s['window_start']} to {s['window_end']}\n"
        f"- Area: about {s['area_km2']} km² (your home is inside; it was checked on your hub "
        "and was not sent)\n"
        f"- Matching clips: {s['count']} (in the media browser under Police requests)\n"
        f"- Expires: {s['expires']}\n"
        f"- Contact: {s['contact']}\n\n"
        "Nothing is shared unless you answer. Answer under Settings → Repairs, or with the "
        "`doorward.answer_request` / `doorward.decline_request` actions "
        f"(request id `{s['request_id']}`)."
    )


class PoliceRequests:
    """The police requests of one hub, their notifications and Repairs issues."""

    def __init__(self, hass: HomeAssistant, entry_id: str, hub_name: str) -> None:
        """Start with none; the first connection reads them."""
        self.hass = hass
        self.entry_id = entry_id
        self.hub_name = hub_name
        self.requests: dict[str, PoliceRequest] = {}
        self._loaded = False
        self._new_listeners: list[Callable[[PoliceRequest], None]] = []
        self._state_listeners: list[Callable[[], None]] = []
        self._cancel_expiry: CALLBACK_TYPE | None = None

    @property
    def pending(self) -> list[PoliceRequest]:
        """The requests waiting for a person's answer, newest first."""
        return sorted(
            (r for r in self.requests.values() if r.pending),
            key=lambda r: r.received_ms,
            reverse=True,
        )

    # Subscriptions -------------------------------------------------------------------------

    @callback
    def async_add_request_listener(self, func: Callable[[PoliceRequest], None]) -> CALLBACK_TYPE:
        """Call `func` with each request new to Home Assistant (pending or rule-declined)."""
        return _add(self._new_listeners, func)

    @callback
    def async_add_listener(self, func: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `func` when a request is added or its state changes."""
        return _add(self._state_listeners, func)

    # Updates -------------------------------------------------------------------------------

    async def async_refresh(self, client: DoorwardClient) -> None:
        """Read every request again (after each (re)connection: the push is live only)."""
        try:
            requests = await client.police_requests()
        except DoorwardAuthenticationError:
            raise
        except DoorwardApiError as err:
            if err.code not in NOT_IN_GROUP:
                LOGGER.warning("Could not read the police requests of %s: %s", self.hub_name, err)
                return
            requests = []
        except DoorwardError as err:
            # The doorbells' push connection does not depend on the group's state: keep what
            # was shown and read the list again on the next connection or answer.
            LOGGER.warning("Could not read the police requests of %s: %s", self.hub_name, err)
            return
        first = not self._loaded
        self._loaded = True
        current = {request.request_id for request in requests}
        for request_id in [r for r in self.requests if r not in current]:
            self.requests.pop(request_id)
            self._async_withdraw(request_id)
        for request in reversed(requests):  # oldest first, as they arrived
            # Requests the hub had before Home Assistant first connected are not news.
            self._async_take(request, announce=not first)
        self._async_changed()

    @callback
    def async_handle_request(self, request: PoliceRequest) -> None:
        """The hub pushed a request it shows to this household."""
        self._async_take(request, announce=True)
        self._async_changed()

    @callback
    def async_stop(self) -> None:
        """Stop the expiry timer (the notifications and issues stay: the requests do too)."""
        if self._cancel_expiry is not None:
            self._cancel_expiry()
            self._cancel_expiry = None

    async def async_answer(
        self,
        client: DoorwardClient,
        request_id: str,
        clip_ids: list[str] | None,
        retention_days: int | None,
    ) -> PoliceAnswer:
        """A person's answer: share the chosen clips (None: all matching) with the agency."""
        try:
            answer = await client.answer_request(request_id, clip_ids, retention_days)
        except DoorwardApiError as err:
            await self._async_refresh_if_closed(client, err)
            raise
        LOGGER.info(
            "Shared %s clip(s) for police request %s", len(answer.shared_clip_ids), request_id
        )
        await self.async_refresh(client)
        return answer

    async def async_decline(self, client: DoorwardClient, request_id: str) -> None:
        """A person declines: nothing is sent to anyone."""
        try:
            await client.decline_request(request_id)
        except DoorwardApiError as err:
            await self._async_refresh_if_closed(client, err)
            raise
        await self.async_refresh(client)

    async def _async_refresh_if_closed(self, client: DoorwardClient, err: DoorwardApiError) -> None:
        """Another client answered, or the request expired: show what the hub says now."""
        if err.code in CLOSED:
            await self.async_refresh(client)

    # Internals -----------------------------------------------------------------------------

    @callback
    def _async_take(self, request: PoliceRequest, *, announce: bool) -> None:
        previous = self.requests.get(request.request_id)
        if request.pending and request.expires_ms <= _now_ms():
            request = _expired(request)
        self.requests[request.request_id] = request
        if request.pending:
            if request != previous:  # a re-read of the same request leaves its notice unread
                self._async_show(request)
        else:
            self._async_withdraw(request.request_id)
        if previous is None and announce:
            for func in list(self._new_listeners):
                func(request)

    @callback
    def _async_show(self, request: PoliceRequest) -> None:
        issue_id = request_issue_id(self.entry_id, request.request_id)
        summary = request_summary(request)
        persistent_notification.async_create(
            self.hass,
            request_text(request),
            title=f"Police request {request.case_number} ({self.hub_name})",
            notification_id=issue_id,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="police_request",
            translation_placeholders=summary,
            data={"entry_id": self.entry_id, "request_id": request.request_id},
        )

    @callback
    def _async_withdraw(self, request_id: str) -> None:
        issue_id = request_issue_id(self.entry_id, request_id)
        persistent_notification.async_dismiss(self.hass, issue_id)
        ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    @callback
    def _async_changed(self) -> None:
        self._async_schedule_expiry()
        for func in list(self._state_listeners):
            func()

    @callback
    def _async_schedule_expiry(self) -> None:
        """Wake at the next pending request's expiry to withdraw what it asked."""
        self.async_stop()
        if pending := self.pending:
            at = min(r.expires_ms for r in pending)
            self._cancel_expiry = async_track_point_in_utc_time(
                self.hass, self._async_expire, dt_util.utc_from_timestamp(at / 1000)
            )

    @callback
    def _async_expire(self, when: datetime) -> None:
        self._cancel_expiry = None
        now = int(when.timestamp() * 1000)
        for request in self.pending:
            if request.expires_ms <= now:
                self.requests[request.request_id] = _expired(request)
                self._async_withdraw(request.request_id)
        self._async_changed()


def _expired(request: PoliceRequest) -> PoliceRequest:
    """The request as the hub lists it once its expiry passed."""
    return dataclasses.replace(request, state=STATE_EXPIRED, held_clip_ids=[])


def _now_ms() -> int:
    return int(dt_util.utcnow().timestamp() * 1000)


def _add[F](listeners: list[F], func: F) -> CALLBACK_TYPE:
    listeners.append(func)

    @callback
    def remove() -> None:
        listeners.remove(func)

    return remove
