"""The hub's registration on a DoorBird: HTTP favorites that call the hub, and schedule outputs
that make the doorbell buttons and the motion sensor call them.

One favorite per notification event: `press-<input param>` for each doorbell button (stations
with several buttons have one schedule entry per button: `101`, `102`, ...) and `motion`. The
favorites are titled `Doorward <hub id> <event>`; everything else on the device is left alone,
except favorites that are Doorward's own leftovers: titled for another hub id but pointing at
this hub's address for this doorbell (a reinstalled hub with a new id).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..base import MalformedMessage
from .client import DoorBirdClient

_LOGGER = logging.getLogger(__name__)

ALWAYS = {"weekdays": [{"from": "104400", "to": "104399"}]}
"""A schedule that covers the whole week (a range that wraps around)."""
TITLE_PREFIX = "Doorward "
MOTION = "motion"
PRESS_PREFIX = "press-"
_MULTI_BUTTON_MODEL = re.compile(r"\bD21(\d\d)")


def title_prefix(hub_id: str) -> str:
    """Favorites titled so are this hub's (several hubs, or other software, may share a device)."""
    return f"{TITLE_PREFIX}{hub_id} "


def default_buttons(device_type: str) -> list[str]:
    """The doorbell inputs of a station whose schedule has no doorbell entry yet.

    Single-button stations number their button `1`; the D21xx series with several buttons
    numbers them from `101` (a D2103V has `101`-`103`), the model number giving the count.
    """
    match = _MULTI_BUTTON_MODEL.search(device_type)
    count = int(match.group(1)) if match else 1
    if count <= 1:
        return ["1"]
    return [str(100 + n) for n in range(1, count + 1)]


def notification_inputs(
    entries: list[dict[str, Any]], device_type: str
) -> dict[str, tuple[str, str]]:
    """Notification event -> (schedule input, param) for this device's buttons and motion."""
    buttons = [str(e.get("param", "")) for e in entries if e.get("input") == "doorbell"]
    if not buttons:
        buttons = default_buttons(device_type)
    inputs = {PRESS_PREFIX + button: ("doorbell", button) for button in dict.fromkeys(buttons)}
    inputs[MOTION] = ("motion", "")
    return inputs


def _calls(output: Any, fav_ids: set[str]) -> bool:
    return (
        isinstance(output, dict)
        and output.get("event") == "http"
        and str(output.get("param")) in fav_ids
    )


def _enabled(output: dict[str, Any]) -> bool:
    return str(output.get("enabled", "1")) != "0"


@dataclass(slots=True)
class Registration:
    """What the hub registered on one device (for the log)."""

    added: int = 0
    removed: int = 0
    enabled: int = 0


def is_leftover(title: str, value: str, hub_id: str, own_url: str) -> bool:
    """Whether a favorite is Doorward's own, left by this hub under an earlier hub id: titled
    for another Doorward hub, calling this hub's address for the same doorbell."""
    if not title.startswith(TITLE_PREFIX) or title.startswith(title_prefix(hub_id)):
        return False
    theirs, ours = urlsplit(value), urlsplit(own_url)
    doorbell_path = ours.path.rsplit("/", 2)[0] + "/"  # .../notify/doorbird/<id>/
    return theirs.netloc == ours.netloc and theirs.path.startswith(doorbell_path)


async def register(
    client: DoorBirdClient,
    hub_id: str,
    entries: list[dict[str, Any]],
    urls: dict[str, str],
    inputs: dict[str, tuple[str, str]],
) -> Registration:
    """Make the device call `urls` (event -> URL): one favorite per event, called by the
    schedule entry of its input.

    Favorites of this hub with another URL (an old secret or address) are removed, and so are
    the schedule outputs that call them; so are Doorward's leftovers. Outputs of the hub that
    the owner disabled are enabled again (a disabled output loses every press).
    """
    done = Registration()
    prefix = title_prefix(hub_id)
    favorites = await client.http_favorites()
    present = {value for title, value in favorites.values() if title.startswith(prefix)}
    missing = {event: url for event, url in urls.items() if url not in present}
    for event, url in missing.items():
        await client.save_favorite(prefix + event, url)
    if missing:
        favorites = await client.http_favorites()
    any_url = next(iter(urls.values()))
    fav_ids: dict[str, str] = {}
    stale: set[str] = set()
    for fav_id, (title, value) in favorites.items():
        if is_leftover(title, value, hub_id, any_url):
            stale.add(fav_id)
            continue
        if not title.startswith(prefix):
            continue
        matched = next((e for e, url in urls.items() if url == value), None)
        if matched is None or matched in fav_ids:
            stale.add(fav_id)
        else:
            fav_ids[matched] = fav_id
    if set(fav_ids) != set(urls):
        raise MalformedMessage("the device did not keep the hub's favorites")
    done.added = len(missing)
    wanted = {inputs[event]: fav_id for event, fav_id in fav_ids.items()}
    await _schedule(client, entries, wanted, stale, done)
    for fav_id in stale:
        await client.delete_favorite(fav_id)
    done.removed = len(stale)
    return done


async def unregister(
    client: DoorBirdClient, hub_id: str, entries: list[dict[str, Any]] | None
) -> int:
    """Remove this hub's favorites and the schedule outputs that call them; how many."""
    prefix = title_prefix(hub_id)
    ours = {
        fav_id
        for fav_id, (title, _) in (await client.http_favorites()).items()
        if title.startswith(prefix)
    }
    if ours and entries is not None:
        await _schedule(client, entries, {}, ours, Registration())
    for fav_id in ours:
        await client.delete_favorite(fav_id)
    return len(ours)


async def _schedule(
    client: DoorBirdClient,
    entries: list[dict[str, Any]],
    wanted: dict[tuple[str, str], str],
    stale: set[str],
    done: Registration,
) -> None:
    """Have each input's schedule entry call its favorite (`wanted`: (input, param) -> favorite
    id), enabled; drop calls to `stale` favorites and calls to the hub's favorites from another
    input."""
    ours = set(wanted.values())
    for key in wanted:
        if not any((e.get("input"), str(e.get("param", ""))) == key for e in entries):
            entries.append({"input": key[0], "param": key[1], "output": []})
    for entry in entries:
        outputs: list[Any] = entry.setdefault("output", [])
        fav_id = wanted.get((str(entry.get("input")), str(entry.get("param", ""))))
        kept = []
        for output in outputs:
            if _calls(output, stale) or (_calls(output, ours) and str(output["param"]) != fav_id):
                continue
            if fav_id is not None and _calls(output, {fav_id}) and not _enabled(output):
                kept.append({**output, "enabled": "1"})
                done.enabled += 1
            else:
                kept.append(output)
        if fav_id is not None and not any(_calls(output, {fav_id}) for output in kept):
            kept.append({"event": "http", "param": fav_id, "enabled": "1", "schedule": ALWAYS})
        if kept != outputs:
            entry["output"] = kept
            await client.save_schedule_entry(entry)
