"""One doorbell's notifications turned into events, whatever the state of its link.

DoorBirds repeat a notification; the repeat of a press of the same button within
`PRESS_REPEAT_SECONDS` is dropped (a press of another button is not). Motion has no end
notification: it ends `MOTION_HOLD_SECONDS` after the last motion notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable

from doorward_hub.models import EventType

from ..base import DeviceEvent

PRESS_REPEAT_SECONDS = 1.5
"""A press notification this soon after the previous one of the same button is a repeat."""
MOTION_HOLD_SECONDS = 15.0
"""Motion ends (`motion_stop`) this long after the last motion notification."""


def device_event(event_type: EventType, button: str | None = None) -> DeviceEvent:
    """An event from a notification (notifications carry no id or device time: the hub's
    arrival time makes the key)."""
    key = f"{event_type.value}:{button or ''}:{time.time_ns()}"
    return DeviceEvent(event_type, None, key, key, button)


class Notifications:
    """The notification state of one doorbell; `deliver` stores an event."""

    def __init__(self, deliver: Callable[[DeviceEvent], Awaitable[None]]) -> None:
        """Events go to `deliver`, which returns once they are stored."""
        self._deliver = deliver
        self._last_press: dict[str | None, float] = {}
        self._motion_until: float | None = None
        self._motion_end: asyncio.Task[None] | None = None

    async def press(self, button: str | None) -> None:
        """A press notification of `button`."""
        now = time.monotonic()
        previous = self._last_press.get(button, -math.inf)
        self._last_press[button] = now
        if now - previous >= PRESS_REPEAT_SECONDS:
            await self._deliver(device_event(EventType.PRESS, button))

    async def motion(self) -> None:
        """A motion notification: motion starts, or goes on for longer."""
        started = self._motion_until is None
        self._motion_until = time.monotonic() + MOTION_HOLD_SECONDS
        if started:
            self._motion_end = asyncio.create_task(self._end_motion())
            await self._deliver(device_event(EventType.MOTION_START))

    async def _end_motion(self) -> None:
        while self._motion_until is not None:
            remaining = self._motion_until - time.monotonic()
            if remaining <= 0:
                self._motion_until = None
                await self._deliver(device_event(EventType.MOTION_STOP))
                return
            await asyncio.sleep(remaining)

    async def close(self) -> None:
        """Stop waiting for the end of motion (the hub stops, or the doorbell is forgotten)."""
        task, self._motion_end = self._motion_end, None
        self._motion_until = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
