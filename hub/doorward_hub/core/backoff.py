"""Capped exponential back-off with jitter: the one retry pace of every reconnect loop."""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """The wait before the next attempt: `start`, doubling up to `maximum`, ±`jitter` spread.

    A loop calls `reset` when an attempt succeeded, `wait` after each failure, and `hold_off`
    when retrying soon is pointless (the device refused, not failed).
    """

    def __init__(self, start: float, maximum: float, jitter: float = 0.2) -> None:
        """Begin at `start` seconds; never wait longer than `maximum` (plus jitter)."""
        self.start, self.maximum, self.jitter = start, maximum, jitter
        self.delay = start

    def reset(self) -> None:
        """The next failure waits `start` again."""
        self.delay = self.start

    def hold_off(self) -> None:
        """The next failure waits `maximum`."""
        self.delay = self.maximum

    def next_wait(self) -> float:
        """The jittered wait for this failure; the one after it waits twice as long."""
        wait = self.delay * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - jitter
        self.delay = min(self.delay * 2, self.maximum)
        return wait

    async def wait(self, wake: asyncio.Event | None = None) -> None:
        """Sleep `next_wait()` seconds; `wake` being set cuts the sleep short and resets."""
        seconds = self.next_wait()
        if wake is None:
            await asyncio.sleep(seconds)
            return
        wake.clear()
        try:
            await asyncio.wait_for(wake.wait(), seconds)
        except TimeoutError:
            return
        self.reset()
