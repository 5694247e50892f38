"""Diagnostics of a Doorward hub connection."""

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST, CONF_TOKEN
from homeassistant.core import HomeAssistant

from .const import CONF_TOKEN_ID
from .data import DoorwardConfigEntry

TO_REDACT = {CONF_TOKEN, CONF_TOKEN_ID, CONF_HOST}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: DoorwardConfigEntry
) -> dict[str, Any]:
    """The entry (without secrets or addresses), the connection, the doorbells and the group
    (never its invite, its Matrix account or the home's cell)."""
    data = entry.runtime_data
    group = data.neighborhood.status
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "hub": {
            "hub_id": data.hub_id,
            "name": data.hub_name,
            "version": data.hub_version,
            "available": data.available,
            "connected": data.connected,
            "last_error": (
                data.last_error.replace(data.client.host, REDACTED) if data.last_error else None
            ),
            "last_seq": data.last_seq,
        },
        "doorbells": [
            async_redact_data(
                asdict(doorbell) | {"capabilities": sorted(doorbell.capabilities)}, TO_REDACT
            )
            for doorbell in data.doorbells.values()
        ],
        "neighborhood": {
            "in_group": group.in_group,
            "joined": group.joined,
            "group_name": group.group_name,
            "member_count": group.member_count,
            "home_location_set": group.home_cell is not None,
            "removed": (
                {"by": group.removed.by, "reason": group.removed.reason} if group.removed else None
            ),
            "sync_error": group.sync_error,
            "posts_today": data.neighborhood.posts_today,
        },
        "press_snapshots": {
            doorbell_id: {"seq": snapshot.seq, "updated": snapshot.updated.isoformat()}
            for doorbell_id, snapshot in data.press_snapshots.items()
        },
    }
