"""Shared by the recording tests: a hub that records short clips, and waiting for clips."""

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event

from doorward_hub.config import RecordingConfig

from ..conftest import FRONT, HubRunner, _join_sqlite_threads, free_port, wait_for

CLIP_EVENT = "event.front_door_clip"
# Short clips keep the tests quick: 1 s before the trigger, 1 s after it.
PRE_ROLL = 1.0
POST_ROLL = 1.0


@contextlib.asynccontextmanager
async def recording_hub(data_dir: Path) -> AsyncIterator[HubRunner]:
    """A running hub that records clips with a short pre- and post-roll.

    A test module overrides the `hub` fixture with it (before `hass` goes, it is stopped).
    """
    runner = HubRunner(data_dir, free_port())
    runner.config = dataclasses.replace(
        runner.config,
        recording=RecordingConfig(pre_roll_seconds=PRE_ROLL, post_roll_seconds=POST_ROLL),
    )
    await runner.start()
    try:
        yield runner
    finally:
        await runner.close()
        _join_sqlite_threads()


async def wait_buffering(hub: HubRunner, doorbell_id: str = FRONT) -> None:
    """Wait until the hub's recorder holds the pre-roll of the doorbell's video."""

    def ready() -> bool:
        assert hub.hub is not None
        stream = hub.hub.recorder.streams.get(doorbell_id)
        return stream is not None and stream.buffered_seconds >= PRE_ROLL

    await wait_for(ready, timeout=30)


def track_clips(hass: HomeAssistant, entity_id: str = CLIP_EVENT) -> list[dict[str, Any]]:
    """The event data of every `clip_ready` the clip event entity fires."""
    fired: list[dict[str, Any]] = []

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is None or new is None or old.state == new.state:
            return
        if new.attributes.get("event_type") == "clip_ready":
            fired.append(dict(new.attributes))

    async_track_state_change_event(hass, [entity_id], changed)
    return fired
