"""A household hub's neighborhood parts, composed for tests as the hub composes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from doorward_hub.audit.log import AuditLog
from doorward_hub.exports.clip import ExportClip
from doorward_hub.exports.exporter import Delivery, Exporter, ExportResult, Grant
from doorward_hub.exports.identity_key import IdentityKey, load_or_create
from doorward_hub.neighborhood.event_types import MemberRecord
from doorward_hub.neighborhood.feed import NeighborFeed
from doorward_hub.neighborhood.invite import Invite
from doorward_hub.neighborhood.location import home_cell
from doorward_hub.neighborhood.membership import Membership
from doorward_hub.neighborhood.posts import GroupPostDelivery


@dataclass
class Household:
    """Identity, audit log, membership, feed and exporter of one hub's data folder."""

    data_dir: Path
    name: str
    identity: IdentityKey
    audit: AuditLog
    membership: Membership
    feed: NeighborFeed
    cell: str

    @classmethod
    async def join(
        cls, data_dir: Path, name: str, invite: Invite, home: tuple[float, float]
    ) -> Household:
        """Join the group the invite is for."""
        identity = load_or_create(data_dir)
        record = MemberRecord("", identity.public_base64, identity.key_id, name)
        membership = await Membership.join(data_dir / "member", invite, name, record)
        return await cls._compose(data_dir, name, identity, membership, home)

    @classmethod
    async def restart(cls, data_dir: Path, name: str, home: tuple[float, float]) -> Household:
        """Come back after a stop, from what the data folder holds."""
        membership = Membership.restore(data_dir / "member")
        return await cls._compose(data_dir, name, load_or_create(data_dir), membership, home)

    @classmethod
    async def _compose(
        cls,
        data_dir: Path,
        name: str,
        identity: IdentityKey,
        membership: Membership,
        home: tuple[float, float],
    ) -> Household:
        audit = await AuditLog.open(data_dir)
        cell = home_cell(*home)
        feed = await NeighborFeed.open(data_dir / "feed", membership, cell)
        return cls(data_dir, name, identity, audit, membership, feed, cell)

    async def sync(self, timeout_ms: int = 0) -> None:
        """One sync into the feed."""
        await self.membership.sync_once(self.feed, timeout_ms=timeout_ms)

    def delivery(self) -> GroupPostDelivery:
        """Posting to the group's feed from this home's cell."""
        return GroupPostDelivery(self.membership, self.cell)

    async def share(
        self, clip: ExportClip, message: str, delivery: Delivery | None = None
    ) -> ExportResult:
        """One human action: share `clip` with the neighbors."""
        exporter = Exporter(self.identity, self.audit)
        grant = Grant.new("household test", clip.clip_id, "neighbor_post")
        return await exporter.export(grant, clip, delivery or self.delivery(), message, 30)

    async def stop(self) -> None:
        """Close everything (the data folder stays)."""
        await self.feed.close()
        await self.membership.close()
