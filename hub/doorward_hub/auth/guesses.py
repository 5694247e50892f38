"""Per-source back-off for secret guesses (pairing codes): a source that guesses wrong waits,
longer each time; every other source is unaffected, so a stranger cannot lock the owner out."""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Wrong guesses a source may make at once (typos); after that it waits FIRST_DELAY seconds,
# doubling with each further wrong guess up to MAX_DELAY.
FREE_GUESSES = 5
FIRST_DELAY = 1.0
MAX_DELAY = 300.0
# A source that stays quiet this long starts over; at most MAX_SOURCES are remembered.
FORGET_AFTER = 15 * 60.0
MAX_SOURCES = 4096


class TooManyGuesses(Exception):
    """This source guessed wrong too often; it may try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        """Seconds until the source may guess again."""
        super().__init__(f"too many wrong guesses; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(slots=True)
class _Source:
    failures: int
    not_before: float
    last_seen: float


def source_key(address: str | None) -> str:
    """The unit a limit applies to: an IPv4 address, or an IPv6 /64 (one LAN host's range)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class GuessLimiter:
    """Remembers wrong guesses per source and says when a source may guess again."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """Use `clock` (monotonic seconds)."""
        self._clock = clock
        self._sources: OrderedDict[str, _Source] = OrderedDict()

    def check(self, address: str | None) -> None:
        """Raise `TooManyGuesses` if this source must still wait."""
        entry = self._entry(source_key(address))
        if entry is not None and entry.not_before > self._clock():
            raise TooManyGuesses(entry.not_before - self._clock())

    def failed(self, address: str | None) -> None:
        """Count a wrong guess from this source and set its next allowed time."""
        key = source_key(address)
        now = self._clock()
        entry = self._entry(key) or _Source(0, 0.0, now)
        entry.failures += 1
        entry.last_seen = now
        over = entry.failures - FREE_GUESSES
        if over >= 0:
            entry.not_before = now + min(MAX_DELAY, FIRST_DELAY * 2**over)
        self._sources[key] = entry
        self._sources.move_to_end(key)
        while len(self._sources) > MAX_SOURCES:
            self._sources.popitem(last=False)

    def succeeded(self, address: str | None) -> None:
        """A right code: this source starts over."""
        self._sources.pop(source_key(address), None)

    def _entry(self, key: str) -> _Source | None:
        entry = self._sources.get(key)
        if entry is not None and self._clock() - entry.last_seen > FORGET_AFTER:
            del self._sources[key]
            return None
        return entry
