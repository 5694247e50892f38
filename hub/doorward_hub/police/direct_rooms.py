"""Encrypted direct rooms between one hub and one peer (an agency, the group bot).

A household opens one only when it shares (never when a request merely arrives), so an agency
never learns which homes were asked. The room is usable at once: the peer is invited, and nio
shares the Megolm key with invited members' devices, so the peer decrypts after it joins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from nio.api import RoomPreset
from nio.client.async_client import AsyncClient
from nio.responses import RoomCreateResponse
from nio.rooms import MatrixRoom

from ..core.files import read_json, write_json_atomically
from ..neighborhood.account import checked
from ..neighborhood.event_types import MEGOLM

ROOMS_FILE: Final = "direct_rooms.json"


async def direct_room(client: AsyncClient, folder: Path, peer: str) -> str:
    """The encrypted direct room with `peer`, created (and kept in `folder`) on first use."""
    known: dict[str, str] = read_json(folder / ROOMS_FILE) or {}
    room_id = known.get(peer)
    if room_id is None:
        created = checked(
            await client.room_create(
                is_direct=True,
                preset=RoomPreset.trusted_private_chat,
                invite=[peer],
                initial_state=[
                    {
                        "type": "m.room.encryption",
                        "state_key": "",
                        "content": {"algorithm": MEGOLM},
                    }
                ],
            ),
            f"opening an encrypted room with {peer}",
        )
        assert isinstance(created, RoomCreateResponse)
        room_id = str(created.room_id)
        write_json_atomically(folder / ROOMS_FILE, known | {peer: room_id})
    # Describe the room to nio as the server has it (encrypted; us joined, the peer invited),
    # so the first message is encrypted to the peer's devices: before any sync saw the room,
    # and also when a sync caught it half made (our join, not yet the invitation), which would
    # have the room key shared with no one.
    room = client.rooms.get(room_id)
    if room is None:
        room = client.rooms[room_id] = MatrixRoom(room_id, str(client.user_id))
        room.add_member(str(client.user_id), None, None)
    room.encrypted = True
    client.encrypted_rooms.add(room_id)
    if peer not in room.users:
        room.add_member(peer, None, None, invited=True)
        client.invalidate_outbound_session(room_id)  # a key shared before the peer was known
    if peer not in client.device_store.users:
        client.olm.users_for_key_query.add(peer)  # type: ignore[union-attr]
    if client.should_query_keys:
        checked(await client.keys_query(), f"fetching {peer}'s device keys")
    return room_id
