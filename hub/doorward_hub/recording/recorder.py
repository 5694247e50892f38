"""The recorder: follows the doorbell manager, keeps one `DoorbellStream` per doorbell that
should be recorded, turns presses, motion and manual requests into clips for the library."""

from __future__ import annotations

import asyncio
import logging

from doorward_hub.config import RecordingConfig
from doorward_hub.core.tasks import TaskSet
from doorward_hub.devices.doorbells import DoorbellManager, DoorbellUnavailable
from doorward_hub.devices.drivers.base import VideoSource
from doorward_hub.models import ClipTrigger, Doorbell, DoorbellStatus, Event, EventType
from doorward_hub.recording.library import ClipLibrary
from doorward_hub.recording.stream import DoorbellStream
from doorward_hub.recording.writer import ClipWriter

_LOGGER = logging.getLogger(__name__)

_TRIGGERS = {EventType.PRESS: ClipTrigger.PRESS, EventType.MOTION_START: ClipTrigger.MOTION}


class Recorder:
    """Records clips for every doorbell that should be recorded; follows the doorbell manager."""

    def __init__(
        self,
        config: RecordingConfig,
        library: ClipLibrary,
        doorbells: DoorbellManager,
    ) -> None:
        """Wire the recorder; register it with `doorbells.add_listener` and call `start`."""
        self.config = config
        self.library = library
        self._doorbells = doorbells
        self.streams: dict[str, DoorbellStream] = {}
        self._background = TaskSet()
        self._closing = False

    async def start(self) -> None:
        """Clean up after a crash and start enforcing retention."""
        await self.library.start()

    async def stop(self) -> None:
        """Stop every stream, finish the clips being written, stop retention."""
        self._closing = True
        streams, self.streams = list(self.streams.values()), {}
        await asyncio.gather(*(stream.stop() for stream in streams))
        await self._background.wait()
        await self.library.stop()

    # DoorbellListener
    def doorbell_changed(self, doorbell: Doorbell) -> None:
        """Start, restart or stop the doorbell's stream to match its state and settings."""
        if self._closing:
            return
        source = self._source(doorbell)
        stream = self.streams.get(doorbell.id)
        if stream is not None and (stream.source, stream.audio) == (source, doorbell.record_audio):
            return
        if stream is not None:
            del self.streams[doorbell.id]
            self._background.spawn(stream.stop(abort=doorbell.privacy_mode))
        if source is not None:
            stream = DoorbellStream(
                doorbell.id,
                source,
                audio=doorbell.record_audio,
                config=self.config,
                library=self.library,
                finished=self._finished,
            )
            self.streams[doorbell.id] = stream
            stream.start()

    def doorbell_removed(self, doorbell_id: str) -> None:
        """Stop recording a forgotten doorbell (its clips stay until retention removes them)."""
        stream = self.streams.pop(doorbell_id, None)
        if stream is not None:
            self._background.spawn(stream.stop())

    def event_recorded(self, doorbell: Doorbell, event: Event, device_time: float | None) -> None:
        """A press or motion start (new or merged into an earlier press) triggers a clip."""
        trigger = _TRIGGERS.get(event.type)
        stream = self.streams.get(doorbell.id)
        if trigger is None or stream is None or doorbell.privacy_mode:
            return
        request = stream.trigger(trigger, event.seq, device_time, self.config.post_roll_seconds)
        if request is None:
            _LOGGER.info(
                "No video to record for an event",
                extra={"doorbell_id": doorbell.id, "seq": event.seq},
            )

    # Manual recording
    def record(self, doorbell_id: str, duration: float) -> tuple[float, float]:
        """Record from now (plus pre-roll) for `duration` seconds; (start, end) planned."""
        doorbell = self._doorbells.get(doorbell_id)
        stream = self.streams.get(doorbell_id)
        if not self.config.enabled:
            raise DoorbellUnavailable("recording is disabled on this hub")
        if doorbell.privacy_mode:
            raise DoorbellUnavailable("doorbell is in privacy mode")
        request = None
        if stream is not None:
            request = stream.trigger(ClipTrigger.MANUAL, None, None, duration)
        if request is None:
            raise DoorbellUnavailable("no live video from the doorbell right now")
        return request.start, request.end

    def _source(self, doorbell: Doorbell) -> VideoSource | None:
        if not (
            self.config.enabled
            and doorbell.approved
            and doorbell.status is DoorbellStatus.ONLINE
            and not doorbell.privacy_mode
        ):
            return None
        try:
            return self._doorbells.video_source(doorbell.id)
        except DoorbellUnavailable:
            return None

    def _finished(self, writer: ClipWriter) -> None:
        self._background.spawn(self._store(writer))

    async def _store(self, writer: ClipWriter) -> None:
        clip = await asyncio.to_thread(writer.finish)
        if clip is not None:
            await self.library.add(clip)
