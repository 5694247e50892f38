"""Neighborhood groups from Home Assistant against a real hub and a real Synapse: the options
flow joins and leaves, `doorward.share_clip` shares one clip, and refusals are translated."""

import dataclasses
import json
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_socket
from homeassistant.components import media_source
from homeassistant.components.http.auth import async_sign_path
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.doorward.const import DOMAIN
from custom_components.doorward.data import doorbell_identifier
from custom_components.doorward.diagnostics import async_get_config_entry_diagnostics
from custom_components.doorward.neighborhood import group_identifier
from doorward_hub.exports.exporter import ExportPackage
from doorward_hub.exports.package import encrypt_file
from doorward_hub.neighborhood.event_types import GroupPolicy
from doorward_hub.neighborhood.group_host import GroupHost
from doorward_hub.neighborhood.posts import GroupPostDelivery

from ...homeserver import serve, synapse
from ...neighborhood.households import Household
from ...neighborhood.media import make_clip
from ..conftest import FRONT, HubRunner, wait_for
from .recording import recording_hub, track_clips, wait_buffering

# The group's entities, on the device named after the group ("Elm Street").
NEIGHBOR_POST = "event.elm_street_neighbor_post"
POSTS_TODAY = "sensor.elm_street_posts_today"
MEMBERS = "sensor.elm_street_members"
REMOVED = "binary_sensor.elm_street_removed_from_the_group"


class SwappedClip(GroupPostDelivery):
    """Sends another clip than the one the manifest signed, as an attacker in the middle."""

    def __init__(self, household: Household, other: Path) -> None:
        """Deliver for `household`, with `other`'s bytes as the video."""
        super().__init__(household.membership, household.cell)
        self._other = other

    async def deliver(self, package: ExportPackage, message: str) -> str:
        """Send the changed package."""
        video = encrypt_file(self._other, "video/mp4")
        return await super().deliver(dataclasses.replace(package, video=video), message)


def video_codec(path: Path) -> str:
    """The codec of the first stream, as ffprobe reads it."""
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return str(json.loads(probed.stdout)["streams"][0]["codec_name"])


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's Synapse; sockets are allowed while it starts (Home Assistant's test plugin
    blocks them outside each test's own loopback allowance)."""
    pytest_socket.enable_socket()
    yield from serve(tmp_path_factory)


@pytest.fixture
async def hub(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[HubRunner]:
    """A hub recording short clips."""
    async with recording_hub(tmp_path / "hub") as runner:
        yield runner


@pytest.fixture
async def group_host(homeserver: Any, tmp_path: Path) -> AsyncIterator[GroupHost]:
    """A group on the session's Synapse."""
    name, password = f"host-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    synapse.register(homeserver, name, password, admin=True)
    host = await GroupHost.sign_in(tmp_path / "host", homeserver.url, name, password)
    await host.create("Elm Street", GroupPolicy())
    yield host
    await host.close()


async def _options(hass: HomeAssistant, entry: ConfigEntry, answer: dict[str, Any]) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    return result, await hass.config_entries.options.async_configure(result["flow_id"], answer)


async def test_join_share_leave(
    hass: HomeAssistant, hub: HubRunner, doorbell: Any, config_entry: ConfigEntry,
    group_host: GroupHost,
) -> None:  # fmt: skip
    """Join with an invite (errors first), share a clip with the action, leave."""
    hass.config.latitude, hass.config.longitude = 52.370216, 4.895168
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, FRONT)), config_entry.entry_id
    )
    assert device is not None
    with pytest.raises(ServiceValidationError) as not_joined:
        await hass.services.async_call(
            DOMAIN, "share_clip", {"device_id": device.id, "clip_id": 1}, blocking=True
        )
    assert not_joined.value.translation_key == "share_not_in_group"

    form, result = await _options(hass, config_entry, {"invite": "hello"})
    assert form["step_id"] == "join"
    assert result["errors"] == {"base": "invalid_invite"}
    used = await group_host.invite()
    await group_host.remove(f"@{used.username}:{group_host.server_name}", "withdrawn")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"invite": used.encode()}
    )
    assert result["errors"] == {"base": "invite_rejected"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"invite": (await group_host.invite()).encode()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    status = await config_entry.runtime_data.client.neighborhood()
    assert (status.joined, status.group_name) == (True, "Elm Street")
    assert status.home_cell is not None

    clips = track_clips(hass)
    await wait_buffering(hub)
    await doorbell.press()
    await wait_for(lambda: clips, timeout=30)
    await hass.services.async_call(
        DOMAIN,
        "share_clip",
        {"device_id": device.id, "clip_id": clips[0]["clip_id"], "message": "Parcel gone"},
        blocking=True,
    )

    async def shared() -> bool:
        posts = await config_entry.runtime_data.client.neighbor_posts()
        return any(p.message == "Parcel gone" and p.verified for p in posts)

    await wait_for(shared, timeout=30)
    with pytest.raises(HomeAssistantError) as missing:
        await hass.services.async_call(
            DOMAIN, "share_clip", {"device_id": device.id, "clip_id": 999_999}, blocking=True
        )
    assert missing.value.translation_key == "share_failed"

    form, result = await _options(hass, config_entry, {"leave": False})
    assert form["step_id"] == "leave"
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "still_in_group")
    _, result = await _options(hass, config_entry, {"leave": True})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert not (await config_entry.runtime_data.client.neighborhood()).joined

    await hub.stop()
    with pytest.raises(HomeAssistantError) as down:
        await hass.services.async_call(
            DOMAIN, "share_clip", {"device_id": device.id, "clip_id": 1}, blocking=True
        )
    assert down.value.translation_key == "hub_unreachable"


async def test_group_device_posts_members_media_and_removal(
    hass: HomeAssistant, hub: HubRunner, config_entry: ConfigEntry, *, group_host: GroupHost,
    tmp_path: Path, hass_client_no_auth: ClientSessionGenerator,
) -> None:  # fmt: skip
    """Joining makes the group's device (behind the hub) and its entities; the member count
    follows the homeserver; a neighbor's clips fire the post entity, count for today, play in
    the media browser (a tampered one titled unverified) and open from the signed link; an
    admin's removal shows why; leaving removes the device and its entities."""
    hass.config.latitude, hass.config.longitude = 52.370216, 4.895168
    assert await async_setup_component(hass, "media_source", {})
    devices, entities = dr.async_get(hass), er.async_get(hass)
    identifier = (DOMAIN, group_identifier(hub.hub_id))

    def group_device() -> dr.DeviceEntry | None:
        return devices.async_get_device_by_identifier(identifier, config_entry.entry_id)

    assert group_device() is None
    assert hass.states.get(POSTS_TODAY) is None

    _, result = await _options(hass, config_entry, {"invite": (await group_host.invite()).encode()})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await wait_for(group_device)
    device = group_device()
    assert device is not None
    hub_device = devices.async_get_device_by_identifier((DOMAIN, hub.hub_id), config_entry.entry_id)
    assert hub_device is not None
    assert (device.name, device.via_device_id) == ("Elm Street", hub_device.id)
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    group_entities = {
        e.entity_id for e in er.async_entries_for_device(entities, device.id)
    }  # fmt: skip
    assert group_entities == {NEIGHBOR_POST, POSTS_TODAY, MEMBERS, REMOVED}
    assert hass.states.get(POSTS_TODAY).state == "0"
    assert hass.states.get(REMOVED).state == "off"
    # The admin who created the group and this hub.
    await wait_for(lambda: hass.states.get(MEMBERS).state == "2", timeout=30)

    # A neighbor joins (the count follows) and shares an honest clip and a tampered one.
    neighbor = await Household.join(
        tmp_path / "neighbor", "Hub B", await group_host.invite(), (52.3702, 4.8952)
    )
    try:
        await wait_for(lambda: hass.states.get(MEMBERS).state == "3", timeout=30)
        posts: list[Event] = []
        async_track_state_change_event(hass, NEIGHBOR_POST, posts.append)
        await neighbor.sync()
        clip = make_clip(tmp_path / "clips", "n1", int(time.time() * 1000))
        await neighbor.share(clip, "Parcel thief")
        other = make_clip(tmp_path / "clips", "n2", int(time.time() * 1000))
        await neighbor.share(clip, "Swapped", SwappedClip(neighbor, other.video))
        await wait_for(lambda: len(posts) == 2, timeout=60)
    finally:
        await neighbor.stop()
    assert hass.states.get(POSTS_TODAY).state == "2"
    assert hass.states.get(POSTS_TODAY).attributes["state_class"] == "total"
    honest = posts[0].data["new_state"].attributes
    assert (honest["message"], honest["verified"], honest["cells_from_home"]) == (
        "Parcel thief", True, 0,
    )  # fmt: skip
    assert honest["text"].startswith("Parcel thief")
    assert dt_util.parse_datetime(honest["time"]) is not None
    assert posts[1].data["new_state"].attributes["verified"] is False

    # The event's link opens without a login (signed), as from a phone's notification.
    anonymous = await hass_client_no_auth()
    response = await anonymous.get(honest["url"])
    assert response.status == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert await response.read() == clip.video.read_bytes()
    unsigned = honest["url"].split("?", 1)[0]
    assert (await anonymous.get(unsigned)).status == 401
    thumbnail = await anonymous.get(honest["thumbnail"])
    assert (await thumbnail.read())[:2] == b"\xff\xd8"

    # The media browser lists both under the group, next to the doorbells, and plays them.
    hub_node = await media_source.async_browse_media(
        hass, f"media-source://doorward/{config_entry.entry_id}"
    )
    group_node = next(c for c in hub_node.children if c.title == "Neighborhood: Elm Street")
    group_node = await media_source.async_browse_media(hass, group_node.media_content_id)
    titles = [child.title for child in group_node.children]
    assert len(titles) == 2
    assert "Swapped" in titles[0]
    assert titles[0].endswith("(unverified)")
    assert "Parcel thief (0 cells away)" in titles[1]
    assert "unverified" not in titles[1]
    item = group_node.children[1]
    assert item.media_content_id == honest["media_content_id"]
    leaf = await media_source.async_browse_media(hass, item.media_content_id)
    assert leaf.title == titles[1]
    played = await media_source.async_resolve_media(hass, item.media_content_id, None)
    assert (played.url, played.mime_type) == (unsigned, "video/mp4")
    signed = async_sign_path(hass, played.url, timedelta(minutes=1))
    video = tmp_path / "played.mp4"
    video.write_bytes(await (await anonymous.get(signed)).read())
    assert video_codec(video) == "h264"

    # An admin removes the hub: the group stays, saying who and why.
    user_id = (await config_entry.runtime_data.client.neighborhood()).user_id
    assert user_id is not None
    await group_host.remove(user_id, "moved away")
    await wait_for(lambda: hass.states.get(REMOVED).state == "on", timeout=60)
    removed = hass.states.get(REMOVED)
    assert removed.attributes["reason"] == "moved away"
    assert removed.attributes["removed_by"].startswith("@host-")
    assert hass.states.get(MEMBERS).state == "unknown"
    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)
    group = diagnostics["neighborhood"]
    assert (group["group_name"], group["joined"], group["posts_today"]) == ("Elm Street", False, 2)
    assert group["removed"]["reason"] == "moved away"
    assert user_id not in str(diagnostics)
    home_cell = (await config_entry.runtime_data.client.neighborhood()).home_cell
    assert home_cell is not None
    assert home_cell not in str(diagnostics)

    # Leaving removes the group's device and entities.
    _, result = await _options(hass, config_entry, {"leave": True})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await wait_for(lambda: group_device() is None)
    assert not {NEIGHBOR_POST, POSTS_TODAY, MEMBERS, REMOVED} & set(hass.states.async_entity_ids())
    assert entities.async_get(POSTS_TODAY) is None
    hub_node = await media_source.async_browse_media(
        hass, f"media-source://doorward/{config_entry.entry_id}"
    )
    assert not [c for c in hub_node.children if c.title.startswith("Neighborhood")]
