"""A plain Matrix client in a group, as a neighbor's Element would be: nio, no Doorward code."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from nio.client.async_client import AsyncClient, AsyncClientConfig
from nio.responses import ErrorResponse, RoomSendResponse

from doorward_hub.neighborhood.invite import Invite


class PlainClient:
    """A person's Matrix client: registers from an invite, joins, reads and writes messages."""

    def __init__(self, client: AsyncClient) -> None:
        """Wrap a logged-in nio client."""
        self.client = client

    @classmethod
    async def join(cls, invite: Invite, store: Path) -> PlainClient:
        """Register with the invite's token and join the space and the member rooms."""
        store.mkdir(parents=True, exist_ok=True)
        client = AsyncClient(
            invite.homeserver,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True),
        )
        registered = await client.register_with_token(
            invite.username, secrets.token_urlsafe(16), invite.registration_token, "Element"
        )
        assert not isinstance(registered, ErrorResponse), registered
        assert not isinstance(await client.join(invite.space_id), ErrorResponse)
        state = await client.room_get_state_event(invite.space_id, "org.doorward.group")
        for room_id in (state.content["rooms"]["feed"], state.content["rooms"]["requests"]):
            assert not isinstance(await client.join(room_id), ErrorResponse)
        plain = cls(client)
        await plain.sync()
        return plain

    async def sync(self) -> Any:
        """One sync, keys kept up to date as Element does."""
        response = await self.client.sync(timeout=0, full_state=not self.client.next_batch)
        assert not isinstance(response, ErrorResponse), response
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        return response

    async def say(self, room_id: str, text: str, **extra: Any) -> str:
        """Send an encrypted text message; its event id."""
        await self.sync()
        sent = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text, **extra},
            ignore_unverified_devices=True,
        )
        assert isinstance(sent, RoomSendResponse), sent
        return str(sent.event_id)

    async def close(self) -> None:
        """Close the connections."""
        await self.client.close()  # type: ignore[no-untyped-call]
