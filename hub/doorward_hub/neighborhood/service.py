"""The household hub's neighborhood: join or leave a group, keep the feed synced, share clips.

One instance per hub. It owns the membership's sync task and the feed, and is the only caller
of the export pipeline for neighbor posts: `share_clip` is one human action on one clip.
The Matrix client, the feed, the police requests and the export pipeline (with their crypto
libraries, about 17 MB resident) are imported when the hub is in a group or joins one, not by a
hub in none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..audit.log import AuditLog
from ..core.files import read_json, write_json_atomically
from ..exports.clip import ExportClip
from ..exports.identity_key import IdentityKey
from ..police.decline_rules import DeclineRulesFile
from .errors import HomeserverUnreachable, InviteRejected, MatrixError
from .event_types import GROUP, GroupPolicy, InvalidContent, MemberRecord
from .invite import InvalidInvite, Invite
from .items import Comment, FeedListener, NeighborPost
from .layout import membership_folder, neighborhood_folder
from .location import home_cell, is_cell

if TYPE_CHECKING:
    from ..exports.exporter import Exporter, ExportResult
    from ..police.household import HouseholdRequests
    from ..police.pending import RequestListener
    from .feed import NeighborFeed
    from .membership import GroupEvent, Membership

_LOGGER = logging.getLogger(__name__)

HOME_FILE: Final = "home.json"
FIRST_SYNC_TIMEOUT: Final = 30.0

type StatusListener = Callable[["GroupStatus"], None]


class Clips(Protocol):
    """The recording library's clips: one by id, and those overlapping a time window."""

    async def __call__(self, clip_id: str) -> ExportClip | None:
        """The clip with this API id, or None."""
        ...

    async def between(self, start_ms: int, end_ms: int) -> list[ExportClip]:
        """Clips overlapping [start_ms, end_ms], oldest first."""
        ...


class NeighborhoodError(Exception):
    """A neighborhood action that cannot be done; `code` says which kind, the message why."""

    def __init__(self, code: str, message: str) -> None:
        """`code`: invalid_invite, invite_rejected, homeserver_unreachable, homeserver_refused,
        not_joined, already_joined, invalid_location, no_home_location, clip_not_found,
        removed, not_ready."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class GroupStatus:
    """What the household is shown about its group."""

    joined: bool
    group_name: str | None = None
    user_id: str | None = None
    home_cell: str | None = None
    removed_by: str | None = None
    removed_reason: str | None = None
    sync_error: str | None = None
    """Why syncing stopped for good (e.g. the device was signed out on the homeserver)."""
    member_count: int | None = None
    """Accounts joined to the group's space (None: not known yet, or not a member)."""

    def to_json(self) -> dict[str, Any]:
        """The status object of the hub API."""
        return {
            "joined": self.joined,
            "group_name": self.group_name,
            "user_id": self.user_id,
            "home_cell": self.home_cell,
            "removed": None
            if self.removed_by is None
            else {"by": self.removed_by, "reason": self.removed_reason},
            "sync_error": self.sync_error,
            "member_count": self.member_count,
        }


class NeighborhoodService:
    """Membership, feed and sharing of one household hub."""

    def __init__(
        self,
        data_dir: Path,
        *,
        hub_name: str,
        identity: IdentityKey,
        audit: AuditLog,
        clips: Clips,
        received_retention_days: float,
    ) -> None:
        """Keep files under `data_dir/neighborhood`; look clips up with `clips`."""
        self._data_dir = data_dir
        self._hub_name = hub_name
        self._identity = identity
        self._audit = audit
        self._clips = clips
        self._retention_days = received_retention_days
        self._exporter: Exporter | None = None  # made at the first share
        self._membership: Membership | None = None
        self._feed: NeighborFeed | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._sync_error: str | None = None
        self._listeners: list[FeedListener] = []
        self._police: HouseholdRequests | None = None
        self._police_listeners: list[RequestListener] = []
        self.decline_rules = DeclineRulesFile(neighborhood_folder(data_dir))
        """The household's police request decline rules (kept when not in a group)."""
        self._status_listeners: list[StatusListener] = []
        self._last_status: GroupStatus | None = None

    # lifecycle

    async def start(self) -> None:
        """Resume the kept membership, if any, and start syncing."""
        folder = membership_folder(self._data_dir)
        if read_json(folder / "group.json") is None:
            return
        from .membership import Membership  # noqa: PLC0415 - only a hub in a group loads it

        self._membership = Membership.restore(folder)
        await self._open_feed()

    async def stop(self) -> None:
        """Stop syncing and close the client and the feed (the membership stays)."""
        await self._stop_sync()
        if self._feed is not None:
            await self._feed.close()
            self._feed = None
        if self._membership is not None:
            await self._membership.close()
            self._membership = None

    # home

    def home_cell(self) -> str | None:
        """The home's H3 cell, if the household set a home location."""
        raw = read_json(neighborhood_folder(self._data_dir) / HOME_FILE)
        cell = raw.get("cell") if isinstance(raw, dict) else None
        return str(cell) if is_cell(cell) else None

    def _home_area_cell(self) -> str | None:
        """The home's resolution-9 cell, matched against police requests' areas (never sent)."""
        raw = read_json(neighborhood_folder(self._data_dir) / HOME_FILE)
        cell = raw.get("area_cell") if isinstance(raw, dict) else None
        return str(cell) if isinstance(cell, str) else None

    async def set_home(self, latitude: float, longitude: float) -> str:
        """Set the home location; only its resolution-8 cell (posts) and resolution-9 cell
        (matching police requests on this hub) are kept."""
        from ..police.area import home_area_cell  # noqa: PLC0415 - H3, when a home is set

        try:
            cell = home_cell(latitude, longitude)
            area_cell = home_area_cell(latitude, longitude)
        except ValueError as err:
            raise NeighborhoodError("invalid_location", str(err)) from err
        write_json_atomically(
            neighborhood_folder(self._data_dir) / HOME_FILE,
            {"cell": cell, "area_cell": area_cell},
        )
        if self._feed is not None:
            await self._stop_sync()
            await self._feed.close()
            await self._open_feed()
        return cell

    # membership

    def status(self) -> GroupStatus:
        """Joined or not, to which group, and whether an admin removed this hub."""
        membership = self._membership
        if membership is None:
            return GroupStatus(joined=False, home_cell=self.home_cell())
        removal = membership.removal
        return GroupStatus(
            joined=removal is None,
            group_name=membership.group.name,
            user_id=membership.group.user_id,
            home_cell=self.home_cell(),
            removed_by=removal.by if removal else None,
            removed_reason=removal.reason if removal else None,
            sync_error=self._sync_error,
            member_count=membership.member_count,
        )

    async def join(self, invite_text: str, actor: str) -> GroupStatus:
        """Join the group an invite is for (the household pasted it)."""
        if self._membership is not None:
            raise NeighborhoodError(
                "already_joined", f"this hub is already in {self._membership.group.name!r}"
            )
        try:
            invite = Invite.decode(invite_text)
        except InvalidInvite as err:
            raise NeighborhoodError("invalid_invite", str(err)) from err
        record = MemberRecord(
            "", self._identity.public_base64, self._identity.key_id, self._hub_name
        )
        from .membership import Membership  # noqa: PLC0415 - see the module's docstring

        try:
            self._membership = await Membership.join(
                membership_folder(self._data_dir), invite, self._hub_name, record
            )
        except MatrixError as err:
            raise _matrix_error(err) from err
        await self._audit.append(
            "group.joined", actor, f"group:{invite.space_id}", {"group_name": invite.group_name}
        )
        await self._open_feed()
        self._status_changed()
        return self.status()

    async def leave(self, actor: str) -> None:
        """Leave the group: the device is deleted on the homeserver, keys and the group's
        received footage are removed from this hub. A hub an admin removed leaves the same
        way (it is how the household clears the removal and can join again)."""
        membership = self._membership
        if membership is None:
            raise NeighborhoodError("not_joined", "this hub is not in a group")
        await self._stop_sync()
        if self._feed is not None:
            await self._feed.close()
            self._feed = None
        space = membership.group.space_id
        try:
            await membership.leave()
        except MatrixError as err:
            raise _matrix_error(err) from err
        finally:
            self._membership = None
        await asyncio.to_thread(
            shutil.rmtree, neighborhood_folder(self._data_dir) / "feed", ignore_errors=True
        )
        await self._audit.append("group.left", actor, f"group:{space}")
        self._status_changed()

    def subscribe_status(self, listener: StatusListener) -> Callable[[], None]:
        """Call `listener` with the status each time it changes (joined, left, removed by an
        admin, member count, syncing stopped)."""
        self._status_listeners.append(listener)
        return lambda: self._status_listeners.remove(listener)

    # feed

    def subscribe(self, listener: FeedListener) -> Callable[[], None]:
        """Call `listener` with each new post and comment of another member."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def posts(self, limit: int = 50) -> list[NeighborPost]:
        """Newest posts first (empty when not in a group)."""
        return await self._feed.posts(limit) if self._feed else []

    async def post(self, event_id: str) -> NeighborPost | None:
        """One post."""
        return await self._feed.post(event_id) if self._feed else None

    async def comments(self, event_id: str) -> list[Comment]:
        """A post's comments."""
        return await self._feed.comments(event_id) if self._feed else []

    def media_path(self, name: str) -> Path | None:
        """Where a received post's video or thumbnail file is."""
        return self._feed.media / name if self._feed else None

    async def enforce_retention(self) -> int:
        """Delete received footage past retention or past its manifest's expiry."""
        return await self._feed.enforce_retention(self._retention_days) if self._feed else 0

    # sharing

    async def share_clip(self, clip_id: str, message: str, actor: str) -> ExportResult:
        """Share one clip with the group: the one human action this call stands for."""
        membership = self._require_membership()
        cell = self.home_cell()
        if cell is None:
            raise NeighborhoodError(
                "no_home_location", "set the home location first: posts carry its coarse cell"
            )
        clip = await self._clips(clip_id)
        if clip is None:
            raise NeighborhoodError("clip_not_found", f"there is no clip {clip_id!r}")
        try:
            async with asyncio.timeout(FIRST_SYNC_TIMEOUT):
                await self._synced.wait()
        except TimeoutError as err:
            raise NeighborhoodError("not_ready", "the hub has not reached the group yet") from err
        from ..exports.exporter import Exporter, Grant  # noqa: PLC0415 - only in a group
        from .posts import GroupPostDelivery  # noqa: PLC0415

        if self._exporter is None:
            self._exporter = Exporter(self._identity, self._audit)
        retention = (await self._policy(membership)).max_export_retention_days
        grant = Grant.new(actor, clip_id, "neighbor_post")
        try:
            return await self._exporter.export(
                grant, clip, GroupPostDelivery(membership, cell), message, retention
            )
        except MatrixError as err:
            raise _matrix_error(err) from err

    # police requests

    @property
    def police(self) -> HouseholdRequests:
        """The police requests shown to this household; `not_joined` when not in a group."""
        self._require_membership()
        if self._police is None:
            raise NeighborhoodError("not_ready", "the hub has not reached the group yet")
        return self._police

    def held_clip_ids(self) -> set[str]:
        """Clips matching a pending police request (retention keeps them)."""
        return self._police.held_clip_ids() if self._police is not None else set()

    def subscribe_police(self, listener: RequestListener) -> None:
        """Call `listener` with each new pending police request."""
        self._police_listeners.append(listener)
        if self._police is not None:
            self._police.subscribe(listener)

    # internals

    def _require_membership(self) -> Membership:
        if self._membership is None:
            raise NeighborhoodError("not_joined", "this hub is not in a group")
        if self._membership.removal is not None:
            removal = self._membership.removal
            raise NeighborhoodError(
                "removed", f"a group admin removed this hub: {removal.reason or 'no reason given'}"
            )
        return self._membership

    async def _policy(self, membership: Membership) -> GroupPolicy:
        from nio.responses import RoomGetStateEventResponse  # noqa: PLC0415 - only in a group

        response = await membership.client.room_get_state_event(membership.group.space_id, GROUP)
        if isinstance(response, RoomGetStateEventResponse):
            with contextlib.suppress(InvalidContent):
                return GroupPolicy.from_content(response.content.get("policy"))
        return GroupPolicy()

    async def _open_feed(self) -> None:
        from ..police.household import HouseholdRequests  # noqa: PLC0415 - only in a group
        from .feed import NeighborFeed  # noqa: PLC0415

        assert self._membership is not None
        cell = self.home_cell()
        self._feed = await NeighborFeed.open(
            neighborhood_folder(self._data_dir) / "feed", self._membership, cell or ""
        )
        self._feed.subscribe(self._notify)
        self._police = HouseholdRequests(
            neighborhood_folder(self._data_dir) / "police",
            self._membership,
            self._identity,
            self._audit,
            self._clips,
            home_cell=self._home_area_cell(),
            decline_rules=self.decline_rules,
        )
        for listener in self._police_listeners:
            self._police.subscribe(listener)
        self._synced.clear()
        self._sync_task = asyncio.create_task(self._sync(), name="doorward-group-sync")

    def _notify(self, item: NeighborPost | Comment) -> None:
        """Tell listeners about neighbors' posts and comments (this hub's own stay quiet)."""
        if self._membership is not None and item.sender == self._membership.group.user_id:
            return
        for listener in list(self._listeners):
            listener(item)

    def _status_changed(self) -> None:
        """Tell the status listeners if what the household is shown changed."""
        status = self.status()
        if status == self._last_status:
            return
        self._last_status = status
        for listener in list(self._status_listeners):
            listener(status)

    async def _sync(self) -> None:
        membership, feed, police = self._membership, self._feed, self._police
        assert membership is not None
        assert feed is not None
        assert police is not None

        async def sink(events: list[GroupEvent]) -> None:
            await feed(events)
            await police(events)

        def synced() -> None:
            self._synced.set()
            self._status_changed()

        try:
            removal = await membership.run(sink, synced)
            _LOGGER.warning("removed from %s: %s", membership.group.name, removal.reason)
        except MatrixError as err:
            self._sync_error = str(err)
            _LOGGER.error("group sync stopped: %s", err)
        self._status_changed()

    async def _stop_sync(self) -> None:
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _matrix_error(err: MatrixError) -> NeighborhoodError:
    if isinstance(err, HomeserverUnreachable):
        return NeighborhoodError("homeserver_unreachable", str(err))
    if isinstance(err, InviteRejected):
        return NeighborhoodError("invite_rejected", str(err))
    return NeighborhoodError("homeserver_refused", str(err))
