"""The integration against a real hub and simulated doorbells: setup, push, resume, devices."""

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from unittest.mock import patch

import pytest
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_PORT, STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
)
from homeassistant.helpers import (
    entity_registry as er,
)
from homeassistant.helpers import (
    issue_registry as ir,
)

from custom_components.doorward import async_remove_config_entry_device
from custom_components.doorward.const import CONF_TOKEN_ID, DOMAIN
from custom_components.doorward.data import doorbell_identifier
from doorward_simulator import SimulatedDoorbell

from ..conftest import (
    BACK,
    FRONT,
    PAIRING_CODE,
    HubRunner,
    async_add_hub,
    track_events,
    wait_for,
)

RING = "event.front_door_doorbell"
MOTION = "event.front_door_motion"
CLIP = "event.front_door_clip"
LAST_PRESS = "image.front_door_last_press"
CONNECTIVITY = "binary_sensor.front_door_connectivity"
STATUS = "sensor.front_door_status"
PRIVACY = "switch.front_door_privacy_mode"
CAMERA = "camera.front_door"
ONLINE = "sensor.test_hub_doorbells_online"
LAST_SEQ = "sensor.test_hub_last_event_number"


def state(hass: HomeAssistant, entity_id: str) -> str | None:
    """The state of an entity, None if it has none."""
    current = hass.states.get(entity_id)
    return None if current is None else current.state


async def hub_seqs(hub: HubRunner, event_type: str = "press") -> list[int]:
    """The seqs of the hub's stored events of one type."""
    status, body = await hub.api("GET", "/events?limit=500")
    assert status == 200
    return [event["seq"] for event in body["events"] if event["type"] == event_type]


async def test_devices_and_entities(
    hass: HomeAssistant,
    hub: HubRunner,
    config_entry: ConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The hub and the doorbell are devices; the doorbell's device hangs off the hub's."""
    hub_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, hub.hub_id), config_entry.entry_id
    )
    assert hub_device is not None
    assert hub_device.name == "Test hub"
    assert hub_device.manufacturer == "Doorward"
    assert hub_device.sw_version
    doorbell_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, FRONT)), config_entry.entry_id
    )
    assert doorbell_device is not None
    assert doorbell_device.name == "Front door"
    assert doorbell_device.manufacturer == "Doorward"
    assert doorbell_device.model == "Doorward Simulator"
    assert doorbell_device.via_device_id == hub_device.id

    entities = er.async_entries_for_config_entry(entity_registry, config_entry.entry_id)
    assert {entity.entity_id for entity in entities} == {
        RING,
        MOTION,
        CLIP,
        LAST_PRESS,
        CONNECTIVITY,
        STATUS,
        PRIVACY,
        CAMERA,
        ONLINE,
        LAST_SEQ,
    }  # a hub in no group has no group device, so no neighbor post entity
    assert entity_registry.async_get(LAST_SEQ).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert entity_registry.async_get(RING).unique_id == f"{hub.hub_id}_{FRONT}_ring"

    assert state(hass, RING) == STATE_UNKNOWN
    assert hass.states.get(RING).attributes["event_types"] == ["ring"]
    assert hass.states.get(RING).attributes["device_class"] == "doorbell"
    assert hass.states.get(MOTION).attributes["event_types"] == ["motion_start", "motion_stop"]
    assert state(hass, CONNECTIVITY) == STATE_ON
    assert state(hass, STATUS) == "online"
    assert state(hass, PRIVACY) == STATE_OFF
    assert state(hass, CAMERA) == "idle"
    assert state(hass, LAST_PRESS) == STATE_UNKNOWN
    assert state(hass, ONLINE) == "1"


async def test_press_and_motion_fire_events(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """A press fires `ring` with the hub's seq; motion fires motion_start / motion_stop."""
    rings = track_events(hass, RING)
    motions = track_events(hass, MOTION)

    await doorbell.press()
    await wait_for(lambda: rings)
    press_seq = (await hub_seqs(hub))[-1]
    assert rings == [("ring", press_seq)]
    attributes = hass.states.get(RING).attributes
    assert attributes["presses"] == 1
    assert attributes["time"].endswith("Z")

    await doorbell.motion(True)
    await doorbell.motion(False)
    await wait_for(lambda: len(motions) == 2)
    assert [event_type for event_type, _ in motions] == ["motion_start", "motion_stop"]
    assert motions[0][1] == (await hub_seqs(hub, "motion_start"))[-1]
    assert rings == [("ring", press_seq)]


async def test_press_snapshot_image(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    hass_client,
) -> None:
    """The image entity shows the picture the hub stored for the press, fetched from the hub."""
    entity = hass.data["domain_entities"]["image"][LAST_PRESS]
    assert await entity.async_image() is None  # no press yet
    # ...and no picture link, so the frontend shows the icon instead of asking for one.
    assert "entity_picture" not in hass.states.get(LAST_PRESS).attributes

    await doorbell.press()
    await wait_for(lambda: state(hass, LAST_PRESS) not in (None, STATE_UNKNOWN))
    picture = hass.states.get(LAST_PRESS).attributes["entity_picture"]
    assert picture.startswith(f"/api/image_proxy/{LAST_PRESS}?token=")
    seq = (await hub_seqs(hub))[-1]
    stored = (hub.config.data_dir / "snapshots" / f"{seq}.jpg").read_bytes()

    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{LAST_PRESS}")
    assert response.status == 200
    assert response.content_type == "image/jpeg"
    assert await response.read() == stored
    # Cached: the hub is not asked twice for the same press.
    response = await client.get(f"/api/image_proxy/{LAST_PRESS}")
    assert await response.read() == stored

    # The next press replaces it.
    first_update = state(hass, LAST_PRESS)
    await doorbell.press()
    await wait_for(lambda: state(hass, LAST_PRESS) != first_update)
    seq = (await hub_seqs(hub))[-1]
    response = await client.get(f"/api/image_proxy/{LAST_PRESS}")
    assert await response.read() == (hub.config.data_dir / "snapshots" / f"{seq}.jpg").read_bytes()


async def test_press_snapshot_gone_or_hub_down(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    hass_client,
) -> None:
    """No picture if the hub deleted it; an error if the hub cannot be reached."""
    await doorbell.press()
    await wait_for(lambda: state(hass, LAST_PRESS) not in (None, STATE_UNKNOWN))
    seq = (await hub_seqs(hub))[-1]
    (hub.config.data_dir / "snapshots" / f"{seq}.jpg").unlink()
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{LAST_PRESS}")
    assert response.status == 500

    entity = hass.data["domain_entities"]["image"][LAST_PRESS]
    assert await entity.async_image() is None
    await hub.stop()
    with pytest.raises(Exception, match="Cannot reach the Doorward hub Test hub"):
        await entity.async_image()


async def test_camera(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """Stills come from the hub's snapshot endpoint; the stream from its video relay."""
    from homeassistant.components import camera

    image = await camera.async_get_image(hass, CAMERA)
    assert image.content_type == "image/jpeg"
    assert image.content.startswith(b"\xff\xd8")

    source = await camera.async_get_stream_source(hass, CAMERA)
    assert source is not None
    assert source.startswith(f"{hub.url}/api/v1/doorbells/{FRONT}/video?token=")
    assert source.endswith(config_entry.data["token"])
    assert hass.states.get(CAMERA).attributes["supported_features"] == 2  # STREAM

    # The relay really serves the doorbell's MPEG-TS video with that URL.
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.get(source, timeout=aiohttp.ClientTimeout(total=10)) as response,
    ):
        assert response.status == 200
        assert response.content_type == "video/mp2t"
        chunk = await response.content.readexactly(188)
        assert chunk[0] == 0x47  # MPEG-TS sync byte

    entity = hass.data["domain_entities"]["camera"][CAMERA]
    await hub.stop()
    with pytest.raises(Exception, match="Cannot reach the Doorward hub Test hub"):
        await entity.async_camera_image()


async def test_privacy_mode_switch(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """The switch sets the hub's privacy mode; meanwhile the camera shows only a notice."""
    from homeassistant.components import camera
    from homeassistant.components.camera import CameraEntityFeature

    from custom_components.doorward.camera import PRIVACY_MODE_PICTURE

    entity = hass.data["domain_entities"]["camera"][CAMERA]
    assert entity.supported_features & CameraEntityFeature.STREAM
    live = await camera.async_get_image(hass, CAMERA)
    await hass.services.async_call("switch", "turn_on", {"entity_id": PRIVACY}, blocking=True)
    assert state(hass, PRIVACY) == STATE_ON
    assert (await hub.doorbell(FRONT))["privacy_mode"] is True
    # No picture and no video from the device: the notice picture, and no stream offered
    # (the frontend then asks for no stream, so Home Assistant logs no error).
    notice = await camera.async_get_image(hass, CAMERA)
    assert notice.content == PRIVACY_MODE_PICTURE.read_bytes() != live.content
    assert notice.content.startswith(b"\xff\xd8")
    assert not entity.supported_features & CameraEntityFeature.STREAM
    assert not hass.states.get(CAMERA).attributes["supported_features"]
    assert await entity.stream_source() is None
    assert await camera.async_get_stream_source(hass, CAMERA) is None

    # Changed on the hub by someone else: pushed to Home Assistant.
    status, _ = await hub.api("PATCH", f"/doorbells/{FRONT}", json={"privacy_mode": False})
    assert status == 200
    await wait_for(lambda: state(hass, PRIVACY) == STATE_OFF)
    assert entity.supported_features & CameraEntityFeature.STREAM
    assert (await camera.async_get_image(hass, CAMERA)).content != notice.content
    assert await entity.stream_source() is not None

    await hass.services.async_call("switch", "turn_on", {"entity_id": PRIVACY}, blocking=True)
    await hass.services.async_call("switch", "turn_off", {"entity_id": PRIVACY}, blocking=True)
    assert state(hass, PRIVACY) == STATE_OFF
    assert (await hub.doorbell(FRONT))["privacy_mode"] is False

    switch = hass.data["domain_entities"]["switch"][PRIVACY]
    await hub.stop()
    with pytest.raises(Exception, match="Cannot reach the Doorward hub Test hub"):
        await switch.async_turn_on()


async def test_hub_restart_no_missed_event(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hub restarts: entities go unavailable, come back, and every press fires once.

    Presses made while the hub is down are kept by the doorbell, replayed to the hub when it
    is back, stored, and pushed to Home Assistant, which resumes from its last seq.
    """
    caplog.set_level(logging.INFO, logger="custom_components.doorward")
    rings = track_events(hass, RING)
    await doorbell.press()
    await wait_for(lambda: len(rings) == 1)

    with patch.object(config_entry.runtime_data.backoff, "minimum", 0.2):
        await hub.stop()
        await wait_for(lambda: state(hass, RING) == STATE_UNAVAILABLE)
        assert state(hass, CAMERA) == STATE_UNAVAILABLE
        assert state(hass, ONLINE) == STATE_UNAVAILABLE
        await doorbell.press()
        await doorbell.press()
        await hub.start()
        await wait_for(lambda: len(rings) == 3)
    await wait_for(lambda: state(hass, CONNECTIVITY) == STATE_ON)
    await doorbell.press()
    await wait_for(lambda: len(rings) == 4)

    seqs = [seq for _, seq in rings]
    assert seqs == await hub_seqs(hub)
    # The hub's presses, each once and in order (seqs have gaps where clip messages took one).
    assert len(seqs) == 4
    assert seqs == sorted(set(seqs)), "a repeat or a reordering in the seqs"
    messages = [record.getMessage() for record in caplog.records]
    assert sum("Lost the connection to Doorward hub" in m for m in messages) == 1
    assert sum("Connection to Doorward hub Test hub restored" in m for m in messages) == 1


async def test_resume_after_home_assistant_restart(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """Presses while Home Assistant is stopped fire when it starts again, once each."""
    rings = track_events(hass, RING)
    await doorbell.press()
    await wait_for(lambda: len(rings) == 1)
    image_updated = await wait_for(
        lambda: state(hass, LAST_PRESS) if state(hass, LAST_PRESS) != STATE_UNKNOWN else None
    )

    await hass.config_entries.async_unload(config_entry.entry_id)
    await doorbell.press()
    await doorbell.motion(True)
    await doorbell.press()
    await wait_for(lambda: _has_presses(hub, 3))

    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    # The press picture is remembered across the restart, then follows the replayed presses.
    assert config_entry.runtime_data.press_snapshots[FRONT].seq == rings[0][1]
    await wait_for(lambda: len(rings) == 3)
    await wait_for(lambda: state(hass, LAST_PRESS) != image_updated)
    assert config_entry.runtime_data.press_snapshots[FRONT].seq == rings[-1][1]
    presses = await hub_seqs(hub)
    assert [seq for _, seq in rings] == presses
    assert config_entry.runtime_data.last_seq == max(
        [*presses, *(await hub_seqs(hub, "motion_start"))]
    )


async def _has_presses(hub: HubRunner, count: int) -> bool:
    return len(await hub_seqs(hub)) >= count


async def test_token_revoked_starts_reauth(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """Revoking Home Assistant's token on the hub (WebSocket close 4001) asks to pair again."""
    token_id = config_entry.data[CONF_TOKEN_ID]
    status, _ = await hub.api("DELETE", f"/tokens/{token_id}")
    assert status == 204
    await wait_for(lambda: state(hass, RING) == STATE_UNAVAILABLE)

    flows = await wait_for(
        lambda: [
            flow
            for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if flow["context"]["source"] == SOURCE_REAUTH
        ]
    )
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {PAIRING_CODE: await hub.new_code()}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await wait_for(lambda: config_entry.runtime_data.connected)
    assert config_entry.data[CONF_TOKEN_ID] != token_id
    assert state(hass, RING) == STATE_UNKNOWN

    rings = track_events(hass, RING)
    await doorbell.press()
    await wait_for(lambda: rings)


async def test_revoked_token_at_setup_and_in_actions(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """A refused token fails actions with a reauth, and setup with ConfigEntryAuthFailed."""
    switch = hass.data["domain_entities"]["switch"][PRIVACY]
    camera = hass.data["domain_entities"]["camera"][CAMERA]
    status, _ = await hub.api("DELETE", f"/tokens/{config_entry.data[CONF_TOKEN_ID]}")
    assert status == 204

    # A user action racing the revocation.
    with pytest.raises(Exception, match="no longer accepts Home Assistant's token"):
        await switch.async_turn_on()
    with pytest.raises(Exception, match="no longer accepts Home Assistant's token"):
        await camera.async_camera_image()

    await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert any(
        flow["context"]["source"] == SOURCE_REAUTH
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    )


async def test_setup_retries_while_hub_unreachable_or_another_hub(
    hass: HomeAssistant,
    hub: HubRunner,
    hub_factory: Callable[..., Awaitable[HubRunner]],
    config_entry: ConfigEntry,
) -> None:
    """No hub at the address, or another hub there: setup is retried later."""
    await hass.config_entries.async_unload(config_entry.entry_id)
    await hub.stop()
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert "Cannot reach the Doorward hub" in str(config_entry.reason)
    await hass.config_entries.async_unload(config_entry.entry_id)

    other = await hub_factory("Other hub")
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_PORT: other.port}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert f"is {other.hub_id}, not the configured hub" in str(config_entry.reason)
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_unreachable_hub_raises_repair_issue(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A hub unreachable for long gets a repair issue, which goes when the hub is back."""
    issue_id = f"hub_unreachable_{config_entry.entry_id}"
    with (
        patch("custom_components.doorward.data.UNREACHABLE_ISSUE_DELAY", timedelta(seconds=0.5)),
        patch.object(config_entry.runtime_data.backoff, "minimum", 0.2),
    ):
        await hub.stop()
        issue = await wait_for(lambda: issue_registry.async_get_issue(DOMAIN, issue_id))
        assert issue.translation_key == "hub_unreachable"
        assert issue.translation_placeholders["name"] == "Test hub"
        assert issue.translation_placeholders["url"] == hub.url
        await hub.start()
        await wait_for(lambda: issue_registry.async_get_issue(DOMAIN, issue_id) is None)
        await wait_for(lambda: state(hass, RING) == STATE_UNKNOWN)

        # Unloading while unreachable drops the issue too.
        await hub.stop()
        await wait_for(lambda: issue_registry.async_get_issue(DOMAIN, issue_id))
        await hass.config_entries.async_unload(config_entry.entry_id)
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_doorbell_added_later(
    hass: HomeAssistant,
    hub: HubRunner,
    config_entry: ConfigEntry,
    doorbell_factory: Callable[..., Awaitable[SimulatedDoorbell]],
    device_registry: dr.DeviceRegistry,
) -> None:
    """A doorbell the hub adopts later gets its device and entities right away."""
    back = await doorbell_factory(BACK, "Back door")
    await wait_for(lambda: state(hass, "binary_sensor.back_door_connectivity") == STATE_ON)
    assert state(hass, ONLINE) == "2"
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, doorbell_identifier(hub.hub_id, BACK)), config_entry.entry_id
    )
    assert device is not None
    assert device.name == "Back door"

    rings = track_events(hass, "event.back_door_doorbell")
    await back.press()
    await wait_for(lambda: rings)

    # Renamed on the hub: the device follows.
    await hub.api("PATCH", f"/doorbells/{BACK}", json={"name": "Garden gate"})
    await wait_for(lambda: device_registry.async_get(device.id).name == "Garden gate")


async def test_doorbell_removed_from_hub(
    hass: HomeAssistant,
    *,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A doorbell the hub forgets is removed from Home Assistant, device and entities."""
    identifier = (DOMAIN, doorbell_identifier(hub.hub_id, FRONT))
    device = device_registry.async_get_device_by_identifier(identifier, config_entry.entry_id)
    hub_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, hub.hub_id), config_entry.entry_id
    )
    assert device is not None
    assert hub_device is not None
    # Neither the hub nor a doorbell the hub has can be removed by hand.
    assert not await async_remove_config_entry_device(hass, config_entry, hub_device)
    assert not await async_remove_config_entry_device(hass, config_entry, device)

    await doorbell.press()
    await wait_for(lambda: config_entry.runtime_data.press_snapshots)
    await doorbell.stop()  # no longer advertised, so the hub does not adopt it again
    status, _ = await hub.api("DELETE", f"/doorbells/{FRONT}")
    assert status == 204
    await wait_for(
        lambda: (
            device_registry.async_get_device_by_identifier(identifier, config_entry.entry_id)
            is None
        )
    )
    assert hass.states.get(RING) is None
    assert entity_registry.async_get(RING) is None
    assert state(hass, ONLINE) == "0"

    # A leftover device of a doorbell the hub no longer has may be removed by hand.
    leftover = device_registry.async_get_or_create(
        config_entry_id=config_entry.entry_id, identifiers={identifier}, name="Front door"
    )
    assert await async_remove_config_entry_device(hass, config_entry, leftover)
    assert FRONT not in config_entry.runtime_data.press_snapshots


async def test_doorbell_removed_while_disconnected(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Removals the push channel could not carry are found on reconnection and at setup."""
    identifier = (DOMAIN, doorbell_identifier(hub.hub_id, FRONT))
    await doorbell.stop()
    with patch.object(config_entry.runtime_data.backoff, "minimum", 3.0):
        await hub.stop()
        await wait_for(lambda: state(hass, RING) == STATE_UNAVAILABLE)
        await hub.start()
        status, _ = await hub.api("DELETE", f"/doorbells/{FRONT}")
        assert status == 204
        await wait_for(
            lambda: (
                device_registry.async_get_device_by_identifier(identifier, config_entry.entry_id)
                is None
            )
        )

    # Removed while Home Assistant was not running: the stale device goes at setup.
    await hass.config_entries.async_unload(config_entry.entry_id)
    device_registry.async_get_or_create(
        config_entry_id=config_entry.entry_id, identifiers={identifier}, name="Front door"
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert device_registry.async_get_device_by_identifier(identifier, config_entry.entry_id) is None


async def test_diagnostics(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """Diagnostics carry the connection and the doorbells, without token or addresses."""
    from custom_components.doorward.diagnostics import (
        async_get_config_entry_diagnostics,
    )

    await doorbell.press()
    await wait_for(lambda: config_entry.runtime_data.press_snapshots)
    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["token_id"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["host"] == "**REDACTED**"
    assert diagnostics["hub"]["hub_id"] == hub.hub_id
    assert diagnostics["hub"]["connected"] is True
    assert diagnostics["doorbells"][0]["id"] == FRONT
    assert diagnostics["doorbells"][0]["host"] == "**REDACTED**"
    assert FRONT in diagnostics["press_snapshots"]
    assert config_entry.data["token"] not in str(diagnostics)

    with patch.object(config_entry.runtime_data.backoff, "minimum", 5.0):
        await hub.stop()
        await wait_for(lambda: not config_entry.runtime_data.available)
        diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)
        assert "127.0.0.1" not in diagnostics["hub"]["last_error"]


async def test_another_hub_at_the_address(
    hass: HomeAssistant,
    hub: HubRunner,
    hub_factory: Callable[..., Awaitable[HubRunner]],
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
) -> None:
    """Another hub answering at the address is not followed; the entry waits for its hub."""
    with patch.object(config_entry.runtime_data.backoff, "minimum", 0.2):
        await hub.stop()
        other = await hub_factory("Other hub", port=hub.port)
        await wait_for(lambda: "another hub" in (config_entry.runtime_data.last_error or ""))
        assert other.hub_id in config_entry.runtime_data.last_error
        assert state(hass, RING) == STATE_UNAVAILABLE
        await other.stop()
        await hub.start()
        await wait_for(lambda: config_entry.runtime_data.connected)
    assert state(hass, RING) == STATE_UNKNOWN


async def test_remove_entry_revokes_token(
    hass: HomeAssistant, hub: HubRunner, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """Removing the integration revokes Home Assistant's token on the hub."""
    token_id = config_entry.data[CONF_TOKEN_ID]
    _, body = await hub.api("GET", "/tokens")
    assert token_id in {token["id"] for token in body["tokens"]}
    await hass.config_entries.async_remove(config_entry.entry_id)
    _, body = await hub.api("GET", "/tokens")
    assert token_id not in {token["id"] for token in body["tokens"]}


async def test_remove_entry_while_hub_down(
    hass: HomeAssistant,
    hub: HubRunner,
    doorbell: SimulatedDoorbell,
    config_entry: ConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The entry is removed even when the hub cannot be told; the log says what to do."""
    await hub.stop()
    await hass.config_entries.async_remove(config_entry.entry_id)
    assert hass.config_entries.async_get_entry(config_entry.entry_id) is None
    assert "Could not revoke Home Assistant's token at Doorward hub Test hub" in caplog.text


async def test_doorbell_waiting_for_approval(
    hass: HomeAssistant,
    hub_factory: Callable[..., Awaitable[HubRunner]],
    doorbell_factory: Callable[..., Awaitable[SimulatedDoorbell]],
    device_registry: dr.DeviceRegistry,
) -> None:
    """A doorbell the owner has not approved on the hub is not Home Assistant's yet."""
    hub = await hub_factory("Approving hub", adoption="approve")
    entry = await async_add_hub(hass, hub)
    await doorbell_factory(BACK, "Back door")

    async def pending() -> bool:
        doorbell = await hub.doorbell(BACK)
        return bool(doorbell and doorbell["status"] == "pending_approval")

    await wait_for(pending)
    await hass.async_block_till_done()
    identifier = (DOMAIN, doorbell_identifier(hub.hub_id, BACK))
    assert device_registry.async_get_device_by_identifier(identifier, entry.entry_id) is None
    assert BACK not in entry.runtime_data.doorbells

    status, _ = await hub.api("POST", f"/doorbells/{BACK}/approve")
    assert status == 200
    await wait_for(lambda: state(hass, "binary_sensor.back_door_connectivity") == STATE_ON)
    assert device_registry.async_get_device_by_identifier(identifier, entry.entry_id)
