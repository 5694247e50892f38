"""Clips in Home Assistant: the media source, the clip relay, and the clip event entity.

A real hub records real clips of a simulated doorbell; Home Assistant browses them, resolves
them to its own relay and serves them (with Range) to its test client.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import aiohttp
import pytest
from homeassistant.components import media_source
from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.doorward.api import Clip, DoorwardApiError, parse
from custom_components.doorward.const import DOMAIN
from custom_components.doorward.data import doorbell_identifier
from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, LOOPBACK, HubRunner, async_add_hub, free_port, wait_for
from .recording import CLIP_EVENT, PRE_ROLL, recording_hub, track_clips, wait_buffering


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


@pytest.fixture
async def media(hass: HomeAssistant) -> None:
    """Home Assistant's media source integration (and its WebSocket commands)."""
    assert await async_setup_component(hass, "websocket_api", {})
    assert await async_setup_component(hass, "media_source", {})


async def press_clip(hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell) -> Any:
    """Press once the pre-roll is buffered; the event data of the resulting clip."""
    clips = track_clips(hass)
    await wait_buffering(hub)
    await doorbell.press()
    await wait_for(lambda: clips, timeout=30)
    return clips[0]


def clip_file(hub: HubRunner, clip: dict[str, Any]) -> bytes:
    """The MP4 the hub stored for a clip."""
    assert hub.hub is not None
    return hub.hub.recorder.library.path(clip["file_name"]).read_bytes()


async def hub_clip(hub: HubRunner, clip_id: int) -> dict[str, Any]:
    """The hub's clip object."""
    status, body = await hub.api("GET", f"/clips/{clip_id}")
    assert status == 200
    assert isinstance(body, dict)
    return body


async def test_press_clip_event_browse_resolve_and_relay(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    *,
    media: None,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A press records a clip: the event fires, the browser lists it, the relay serves it."""
    fired = await press_clip(hass, hub, doorbell)
    clip = await hub_clip(hub, fired["clip_id"])
    entry_id = config_entry.entry_id
    day = dt_util.as_local(dt_util.parse_datetime(clip["start"])).date().isoformat()
    video = f"/api/doorward/clips/{entry_id}/{clip['id']}/video"
    thumbnail = f"/api/doorward/clips/{entry_id}/{clip['id']}/thumbnail"
    identifier = f"{entry_id}/{FRONT}/{day}/{clip['id']}"

    # The event entity: which clip, what started it, where Home Assistant serves it.
    assert fired["event_type"] == "clip_ready"
    assert fired["clip_id"] == clip["id"]
    assert fired["trigger"] == "press"
    assert fired["trigger_seq"] == clip["trigger_seq"]
    assert fired["duration"] == clip["duration"]
    assert fired["duration"] >= PRE_ROLL
    assert fired["url"] == video
    assert fired["thumbnail"] == thumbnail
    assert fired["media_content_id"] == f"media-source://doorward/{identifier}"
    state = hass.states.get(CLIP_EVENT)
    assert state is not None
    assert state.attributes["event_types"] == ["clip_ready"]
    assert state.attributes["friendly_name"] == "Front door Clip"

    # Hub → doorbell → day → clip.
    root = await media_source.async_browse_media(hass, "media-source://doorward")
    assert root.domain == DOMAIN
    assert [(c.title, c.identifier) for c in root.children] == [("Test hub", entry_id)]
    hub_node = await media_source.async_browse_media(hass, root.children[0].media_content_id)
    assert [(c.title, c.identifier) for c in hub_node.children] == [
        ("Front door", f"{entry_id}/{FRONT}")
    ]
    doorbell_node = await media_source.async_browse_media(
        hass, hub_node.children[0].media_content_id
    )
    assert [(c.title, c.identifier) for c in doorbell_node.children] == [
        (day, f"{entry_id}/{FRONT}/{day}")
    ]
    assert doorbell_node.children[0].thumbnail == thumbnail
    day_node = await media_source.async_browse_media(
        hass, doorbell_node.children[0].media_content_id
    )
    (item,) = day_node.children
    assert item.identifier == identifier
    assert item.can_play
    assert not item.can_expand
    assert item.thumbnail == thumbnail
    assert item.media_content_type == "video/mp4"
    assert "Ring" in item.title
    leaf = await media_source.async_browse_media(hass, item.media_content_id)
    assert leaf.identifier == identifier
    assert leaf.can_play

    # Resolved to Home Assistant's relay, never to the hub (no token in sight).
    played = await media_source.async_resolve_media(hass, item.media_content_id, None)
    assert played.url == video
    assert played.mime_type == "video/mp4"
    assert "token" not in played.url

    client = await hass_client()
    data = clip_file(hub, clip)
    assert len(data) == clip["size"]
    response = await client.get(video)
    assert response.status == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert await response.read() == data
    response = await client.get(video, headers={"Range": "bytes=100-199"})
    assert response.status == 206
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert response.headers["Content-Length"] == "100"
    assert await response.read() == data[100:200]
    response = await client.get(video, headers={"Range": f"bytes={len(data) + 10}-"})
    assert response.status == 416
    response = await client.get(thumbnail)
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert (await response.read())[:2] == b"\xff\xd8"

    # Without Home Assistant credentials: refused; with a signed path (what the media
    # browser hands to a player): served.
    anonymous = await hass_client_no_auth()
    assert (await anonymous.get(video)).status == 401
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id(
        {"type": "media_source/resolve_media", "media_content_id": item.media_content_id}
    )
    result = await ws.receive_json()
    assert result["success"], result
    signed = result["result"]["url"]
    assert signed.startswith(f"{video}?authSig=")
    response = await anonymous.get(signed, headers={"Range": "bytes=0-9"})
    assert response.status == 206
    assert await response.read() == data[:10]
    signed_thumbnail = async_sign_path(hass, thumbnail, timedelta(minutes=1))
    assert (await anonymous.get(signed_thumbnail)).status == 200


async def test_record_action_newest_first(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    media: None,
) -> None:
    """`doorward.record` records a manual clip; a day lists its clips newest first."""
    pressed = await press_clip(hass, hub, doorbell)
    clips = track_clips(hass)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, FRONT)), config_entry.entry_id
    )
    assert device is not None

    await hass.services.async_call(
        DOMAIN, "record", {"device_id": device.id, "duration": 1}, blocking=True
    )
    await wait_for(lambda: clips, timeout=30)
    manual = clips[0]
    assert manual["trigger"] == "manual"
    assert manual["trigger_seq"] is None
    clip = await hub_clip(hub, manual["clip_id"])
    assert clip["trigger"] == "manual"
    assert clip["duration"] >= PRE_ROLL + 1 - 0.5

    # The client pages through the hub's clips (here one clip a page).
    client = config_entry.runtime_data.client
    page = await client.clips(doorbell_id=FRONT, limit=1)
    assert [c.id for c in page.clips] == [manual["clip_id"]]
    assert page.more
    page = await client.clips(doorbell_id=FRONT, before=page.clips[0].id, limit=1)
    assert [c.id for c in page.clips] == [pressed["clip_id"]]
    assert not page.more

    doorbell_id = f"{config_entry.entry_id}/{FRONT}"
    children = []
    with patch("custom_components.doorward.api.CLIPS_PAGE_LIMIT", 1):
        days = await media_source.async_browse_media(hass, f"media-source://doorward/{doorbell_id}")
        for day in days.children:
            node = await media_source.async_browse_media(hass, day.media_content_id)
            children.extend(node.children)
    assert [c.identifier.rsplit("/", 1)[1] for c in children] == [
        str(manual["clip_id"]),
        str(pressed["clip_id"]),
    ]
    assert "Manual recording" in children[0].title


async def test_relay_errors(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """Unknown hubs, clips and paths are 404; an unreachable hub or a revoked token is 502."""
    fired = await press_clip(hass, hub, doorbell)
    client = await hass_client()
    base = f"/api/doorward/clips/{config_entry.entry_id}"
    assert (await client.get(f"/api/doorward/clips/nope/{fired['clip_id']}/video")).status == 404
    assert (await client.get(f"{base}/{fired['clip_id']}/other")).status == 404
    assert (await client.get(f"{base}/x1/video")).status == 404
    assert (await client.get(f"{base}/999999/video")).status == 404
    assert (await client.get(f"{base}/999999/thumbnail")).status == 404
    # Neighbors' posts: the same relay rules.
    posts = f"/api/doorward/neighborhood/{config_entry.entry_id}"
    assert (await client.get("/api/doorward/neighborhood/nope/$post/video")).status == 404
    assert (await client.get(f"{posts}/$post/other")).status == 404
    assert (await client.get(f"{posts}/$unknown/video")).status == 404

    # The hub no longer accepts Home Assistant's token: 502, and Home Assistant asks to pair.
    status, _ = await hub.api("DELETE", f"/tokens/{config_entry.data['token_id']}")
    assert status == 204
    assert (await client.get(fired["url"])).status == 502
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert any(flow["context"]["source"] == SOURCE_REAUTH for flow in flows)

    await hub.stop()
    assert (await client.get(fired["thumbnail"])).status == 502
    assert (await client.get(f"{posts}/$post/video")).status == 502


async def test_browse_and_resolve_errors(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    media: None,
) -> None:
    """Unknown hubs, doorbells, days and clips are translated errors, so is a hub that is down."""
    entry_id = config_entry.entry_id
    for identifier in (
        "nope",
        f"{entry_id}/unknown-doorbell",
        f"{entry_id}/{FRONT}/not-a-day",
        f"{entry_id}/{FRONT}/2026-11-23/x",
        f"{entry_id}/{FRONT}/2026-11-23/999999",
        f"{entry_id}/{FRONT}/2026-11-23/1/extra",
        f"{entry_id}/~neighborhood",  # the hub is in no group
        f"{entry_id}/~neighborhood/$post",
    ):
        with pytest.raises(BrowseError) as browse_err:
            await media_source.async_browse_media(hass, f"media-source://doorward/{identifier}")
        assert browse_err.value.translation_domain == DOMAIN, identifier
        assert browse_err.value.translation_key in ("unknown_media", "hub_not_loaded")
    for identifier in (
        f"{entry_id}/{FRONT}",
        f"{entry_id}/{FRONT}/2026-11-23/x",
        f"{entry_id}/{FRONT}/2026-11-23/999999",
        f"nope/{FRONT}/2026-11-23/1",
        f"{entry_id}/~neighborhood/$unknown",
    ):
        with pytest.raises(media_source.Unresolvable) as resolve_err:
            await media_source.async_resolve_media(
                hass, f"media-source://doorward/{identifier}", None
            )
        assert resolve_err.value.translation_domain == DOMAIN, identifier

    await hub.stop()
    with pytest.raises(BrowseError) as browse_err:
        await media_source.async_browse_media(hass, f"media-source://doorward/{entry_id}/{FRONT}")
    assert browse_err.value.translation_key == "hub_unreachable"
    with pytest.raises(media_source.Unresolvable) as resolve_err:
        await media_source.async_resolve_media(
            hass, f"media-source://doorward/{entry_id}/{FRONT}/2026-11-23/1", None
        )
    assert resolve_err.value.translation_key == "hub_unreachable"
    with pytest.raises(media_source.Unresolvable) as resolve_err:
        await media_source.async_resolve_media(
            hass, f"media-source://doorward/{entry_id}/~neighborhood/$post", None
        )
    assert resolve_err.value.translation_key == "hub_unreachable"


CLIP_JSON = {
    "id": 7,
    "doorbell_id": "sim-x",
    "trigger": "press",
    "trigger_seq": 17,
    "trigger_time": "2026-11-23T21:04:05.118Z",
    "start": "2026-11-23T21:04:00.140Z",
    "end": "2026-11-23T21:04:15.140Z",
    "duration": 15.0,
    "size": 187044,
    "has_audio": False,
}


def test_parse_clip() -> None:
    """A clip object of API version 1; malformed ones are API errors."""
    clip = parse(Clip, CLIP_JSON)
    assert clip.start == datetime(2026, 11, 23, 21, 4, 0, 140000, tzinfo=UTC)
    assert clip.duration == 15.0
    assert parse(Clip, {**CLIP_JSON, "trigger_seq": None}).trigger_seq is None
    with pytest.raises(DoorwardApiError, match="duration is not a number"):
        parse(Clip, {**CLIP_JSON, "duration": True})
    with pytest.raises(DoorwardApiError, match="start has no time zone"):
        parse(Clip, {**CLIP_JSON, "start": "2026-11-23T21:04:00"})
    with pytest.raises(DoorwardApiError, match="malformed Clip"):
        parse(Clip, {**CLIP_JSON, "end": "yesterday"})


async def test_malformed_clip_message_is_skipped(
    hass: HomeAssistant,
    hub: HubRunner,
    config_entry: ConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A `clip` push message that is not a clip object is logged, and fires nothing."""
    clips = track_clips(hass)
    config_entry.runtime_data.async_handle_message({"type": "clip", "clip": {"id": "x"}})
    await hass.async_block_till_done()
    assert clips == []
    assert "Ignoring a malformed clip message" in caplog.text


class CuttingProxy:
    """A TCP proxy on loopback in front of the hub that breaks one clip transfer midway.

    Everything passes through unchanged until `cut()` is armed: then the first connection
    that carries an MP4 answer from the hub gets its headers and `budget` bytes of the body,
    and is closed, as a hub that crashes or a network that drops would.
    """

    MARKER = b"video/mp4"

    def __init__(self, target_port: int) -> None:
        """Forward to the hub's port."""
        self.target_port = target_port
        self.port = free_port()
        self.budget: int | None = None
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    def cut(self, budget: int) -> None:
        """Break the next MP4 answer after `budget` bytes."""
        self.budget = budget

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_server(self._connect, LOOPBACK, self.port)

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hub_reader, hub_writer = await asyncio.open_connection(LOOPBACK, self.target_port)
        self._writers += [writer, hub_writer]
        await asyncio.gather(
            self._pipe(reader, hub_writer, from_hub=False),
            self._pipe(hub_reader, writer, from_hub=True),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, from_hub: bool
    ) -> None:
        left: int | None = None  # bytes still allowed through once this answer is to be cut
        try:
            while data := await reader.read(65536):
                if from_hub and left is None and self.budget is not None and self.MARKER in data:
                    left, self.budget = self.budget + data.index(self.MARKER), None
                if left is not None:
                    writer.write(data[:left])
                    await writer.drain()
                    left -= min(left, len(data))
                    if left == 0:
                        self.cuts += 1
                        break
                    continue
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


async def test_relay_stops_when_the_hub_breaks_off(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hub's answer breaks off midway: the player gets a short answer, not a hang or 500."""
    proxy = CuttingProxy(hub.port)
    await proxy.start()
    try:
        entry = await async_add_hub(hass, hub, port=proxy.port)
        fired = await press_clip(hass, hub, doorbell)
        data = clip_file(hub, await hub_clip(hub, fired["clip_id"]))
        client = await hass_client()
        caplog.set_level(logging.DEBUG, logger="custom_components.doorward")
        proxy.cut(budget=4096)
        response = await client.get(fired["url"])
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(data))
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
        assert proxy.cuts == 1
        assert f"Relaying /clips/{fired['clip_id']}/video stopped" in caplog.text
        # The relay is not stuck: the next request is served in full.
        response = await client.get(fired["url"])
        assert await response.read() == data
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await proxy.stop()
