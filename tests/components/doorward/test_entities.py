"""The entity structure: descriptions per platform, one setup, state written only on change."""

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_state_report_event,
)

from custom_components.doorward import (
    binary_sensor,
    camera,
    event,
    image,
    sensor,
    switch,
)
from custom_components.doorward.api import Doorbell, parse
from custom_components.doorward.backoff import Backoff
from custom_components.doorward.entity import DoorwardEntityDescription
from doorward_simulator import SimulatedDoorbell

from ..conftest import FRONT, wait_for

STRINGS = Path(camera.__file__).with_name("strings.json")
DOORBELL_DESCRIPTIONS: dict[str, tuple[DoorwardEntityDescription, ...]] = {
    "binary_sensor": binary_sensor.BINARY_SENSORS,
    "camera": camera.CAMERAS,
    "event": event.EVENTS + event.CLIP_EVENTS,
    "image": image.IMAGES,
    "sensor": sensor.DOORBELL_SENSORS,
    "switch": switch.SWITCHES,
}

CONNECTIVITY = "binary_sensor.front_door_connectivity"
STATUS = "sensor.front_door_status"
PRIVACY = "switch.front_door_privacy_mode"
CAMERA = "camera.front_door"
LAST_PRESS = "image.front_door_last_press"
ONLINE = "sensor.test_hub_doorbells_online"
WATCHED = (CONNECTIVITY, STATUS, PRIVACY, CAMERA, LAST_PRESS, ONLINE)


def doorbell_with(*capabilities: str) -> Doorbell:
    """A doorbell object with these capabilities."""
    return parse(
        Doorbell,
        {"id": "sim-x", "status": "online", "online": True, "capabilities": list(capabilities)},
    )


def keys_for(doorbell: Doorbell) -> set[str]:
    """`platform.key` of every entity the doorbell gets."""
    return {
        f"{platform}.{description.key}"
        for platform, descriptions in DOORBELL_DESCRIPTIONS.items()
        for description in descriptions
        if description.exists_fn(doorbell)
    }


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [
        ((), set()),
        (("snapshot",), {"camera.camera", "image.last_press"}),
        (("video",), {"camera.camera", "event.clip"}),
        (("motion",), {"event.motion"}),
        (
            ("snapshot", "video", "motion"),
            {"camera.camera", "image.last_press", "event.clip", "event.motion"},
        ),
    ],
)
def test_capabilities_decide_the_entities(
    capabilities: tuple[str, ...], expected: set[str]
) -> None:
    """Every doorbell gets ring, connectivity, status and privacy; the rest by capability."""
    always = {
        "event.ring",
        "binary_sensor.connected",
        "sensor.status",
        "switch.privacy_mode",
    }
    assert keys_for(doorbell_with(*capabilities)) == always | expected


def test_descriptions_are_unique_and_translated() -> None:
    """Keys are unique per platform (they make the unique ids); every name is translated."""
    entity_strings = json.loads(STRINGS.read_text())["entity"]
    for platform, descriptions in DOORBELL_DESCRIPTIONS.items():
        keys = [description.key for description in descriptions]
        assert len(keys) == len(set(keys)), platform
        for description in descriptions:
            if isinstance(description.translation_key, str):
                assert description.translation_key in entity_strings[platform], description.key
    for description in sensor.HUB_SENSORS:
        assert description.translation_key in entity_strings["sensor"]


def test_value_functions() -> None:
    """What each description shows, from the doorbell's state."""
    doorbell = doorbell_with("snapshot")
    private = replace(doorbell, privacy_mode=True, online=False, status="brand_new_status")
    assert binary_sensor.BINARY_SENSORS[0].value_fn(doorbell) is True
    assert binary_sensor.BINARY_SENSORS[0].value_fn(private) is False
    assert switch.SWITCHES[0].value_fn(private) is True
    assert camera.CAMERAS[0].value_fn(doorbell) is True
    assert camera.CAMERAS[0].value_fn(private) is False
    assert sensor.DOORBELL_SENSORS[0].value_fn(doorbell) == "online"
    # A status a newer hub added is unknown here rather than an invalid enum state.
    assert sensor.DOORBELL_SENSORS[0].value_fn(private) is None


def test_backoff_doubles_up_to_its_maximum_and_resets() -> None:
    """1, 2, 4, ... up to the maximum; after a success it starts from the minimum again."""
    backoff = Backoff(1.0, 5.0)
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0
    backoff.minimum = 0.2  # read at each reset, so a running loop picks it up
    backoff.reset()
    assert [backoff.next_delay() for _ in range(2)] == [0.2, 0.4]


async def test_entities_write_state_only_when_it_changed(
    hass: HomeAssistant, doorbell: SimulatedDoorbell, config_entry: ConfigEntry
) -> None:
    """A push that changes nothing an entity shows writes nothing; a real change writes once."""
    data = config_entry.runtime_data
    writes: Counter[str] = Counter()

    @callback
    def written(written_event: Event) -> None:
        writes[written_event.data["entity_id"]] += 1

    async_track_state_change_event(hass, WATCHED, written)
    async_track_state_report_event(hass, WATCHED, written)
    current = data.doorbells[FRONT]
    pushed = {
        "id": FRONT,
        "name": current.name,
        "model": current.model,
        "driver": current.driver,
        "capabilities": sorted(current.capabilities),
        "status": current.status,
        "online": current.online,
        "privacy_mode": current.privacy_mode,
        "firmware": current.firmware,
    }

    # The hub pushes the doorbell again, only its last contact changed.
    data.async_handle_message(
        {"type": "doorbell", "doorbell": pushed | {"last_seen": "2030-01-01T00:00:00+00:00"}}
    )
    # A motion event: the hub's figures are recomputed, the number online stays.
    seq = data.last_seq
    await doorbell.motion(True)
    await wait_for(lambda: data.last_seq > seq)
    await hass.async_block_till_done()
    assert not writes, writes

    # Privacy mode on: the switch and the camera change, nothing else. The camera drops its
    # stream feature, so Home Assistant's camera base class refreshes its stream providers and
    # writes the state a second time by itself (`Camera._async_write_ha_state`).
    await hass.services.async_call("switch", "turn_on", {"entity_id": PRIVACY}, blocking=True)
    await wait_for(lambda: writes[CAMERA] >= 2)
    await hass.async_block_till_done()
    assert writes == Counter({PRIVACY: 1, CAMERA: 2})
