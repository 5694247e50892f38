"""Pairing codes on a real store without the rest of the hub: expiry on the clock `Pairing`
accepts, one use, the console code file, the lock-out. Fast, so mutation testing
(scripts/mutation) can run it often; the API tests pair through HTTP, and test_pairing.py attacks
the running hub (per-source back-off, the rotation interval)."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from doorward_hub.auth.pairing import Pairing, normalize_code
from doorward_hub.storage.repositories import Repositories


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stored(tmp_path: Path) -> AsyncIterator[Repositories]:
    repositories = await Repositories.open(tmp_path / "hub.db")
    yield repositories
    await repositories.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pairing(stored: Repositories, tmp_path: Path, clock: Clock) -> Pairing:
    # Every wrong code may rotate here (no interval): the interval is test_pairing.py's.
    return Pairing(
        stored.pairing_codes,
        stored.tokens,
        tmp_path / "pairing-code",
        clock=clock,
        rotation_interval=0,
    )


_SOURCES = itertools.count()


def source() -> str:
    """A new address for each call: the per-source back-off is test_pairing.py's concern."""
    n = next(_SOURCES)
    return f"192.0.2.{n % 250}" if n < 250 else f"198.51.100.{n % 250}"


def console_code(tmp_path: Path) -> str:
    return (tmp_path / "pairing-code").read_text().strip()


async def test_codes_look_like_the_docs_and_are_forgiving(pairing: Pairing) -> None:
    code = await pairing.new_code()
    assert re.fullmatch(r"[A-HJ-KM-NP-Z2-9]{4}-[A-HJ-KM-NP-Z2-9]{4}", code), code
    assert normalize_code(" ab cd-efgh ") == "ABCD-EFGH"
    assert await pairing.redeem(code.lower().replace("-", " "), "typed", source()) is not None


async def test_a_code_pairs_once_and_issues_a_stored_token(
    pairing: Pairing, stored: Repositories, clock: Clock
) -> None:
    code = await pairing.new_code()
    issued = await pairing.redeem(code, "Home Assistant", source())
    assert issued is not None
    assert re.fullmatch(r"tok_[0-9a-f]{12}", issued.token_id), issued.token_id
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", issued.token), "256 random bits, URL-safe"
    [token] = await stored.tokens.list_tokens()
    assert (token.id, token.client_name, token.created) == (
        issued.token_id,
        "Home Assistant",
        clock.now,
    )
    assert await pairing.redeem(code, "again", source()) is None


async def test_pairing_codes_expire_after_15_minutes(pairing: Pairing, clock: Clock) -> None:
    fresh, stale = await pairing.new_code(), await pairing.new_code()
    clock.now += 15 * 60 - 1
    assert await pairing.redeem(fresh, "in time", source()) is not None
    clock.now += 1
    assert await pairing.redeem(stale, "at the minute", source()) is None


async def test_an_unused_code_dies_of_age_alone(pairing: Pairing, clock: Clock) -> None:
    """Nothing but time ends this code: no other code is used in between (using one replaces
    every outstanding code, which would hide codes that never expire)."""
    used = await pairing.new_code()
    clock.now += 15 * 60 - 1
    assert await pairing.redeem(used, "in time", source()) is not None
    late = await pairing.new_code()
    clock.now += 15 * 60
    assert await pairing.redeem(late, "at the minute", source()) is None


async def test_the_console_code_dies_of_age_even_if_nothing_replaces_it(
    pairing: Pairing, clock: Clock, tmp_path: Path
) -> None:
    """The console code's own expiry ends it, housekeeping or not."""
    console = await pairing.refresh_console_code("test")
    clock.now += 15 * 60 - 1
    assert await pairing.redeem(console, "in time", source()) is not None
    replaced = console_code(tmp_path)  # made when the first one was used
    clock.now += 15 * 60
    assert await pairing.redeem(replaced, "at the minute", source()) is None


async def test_the_console_code_is_replaced_at_its_expiry(
    pairing: Pairing, clock: Clock, tmp_path: Path
) -> None:
    console = await pairing.refresh_console_code("test")
    clock.now += 15 * 60 - 1
    await pairing.refresh_if_expired()
    assert console_code(tmp_path) == console
    clock.now += 1  # exactly 15 minutes: expired
    await pairing.refresh_if_expired()
    assert console_code(tmp_path) != console


async def test_wrong_codes_rotate_the_console_code_at_most_every_two_minutes(
    stored: Repositories, tmp_path: Path, clock: Clock
) -> None:
    """Strangers' guesses cannot replace the code faster than the owner types it; the interval
    (120 s) and the threshold (5) are written out here, not imported."""
    monotonic = Clock()
    monotonic.now = 1000.0
    code_file = tmp_path / "pairing-code"
    pairing = Pairing(
        stored.pairing_codes, stored.tokens, code_file, clock=clock, monotonic=monotonic
    )

    async def wrong(times: int) -> None:
        for _ in range(times):
            assert await pairing.redeem("AAAA-AAAA", "guess", source()) is None

    console = await pairing.refresh_console_code("test")
    await wrong(5)  # the first lock-out rotates at once
    assert console_code(tmp_path) != console
    console = console_code(tmp_path)
    monotonic.now += 119
    await wrong(5)
    assert console_code(tmp_path) == console, "a second rotation within 2 minutes"
    monotonic.now += 1
    await wrong(1)  # the guesses kept counting: the next one after 2 minutes rotates
    assert console_code(tmp_path) != console
    console = console_code(tmp_path)
    await wrong(4)
    monotonic.now += 500
    await wrong(1)  # counted from 0 after that rotation: the fifth
    assert console_code(tmp_path) != console

    # Right after the machine booted (the monotonic clock near 0) the first lock-out rotates too.
    monotonic.now = 0.0
    pairing = Pairing(
        stored.pairing_codes, stored.tokens, code_file, clock=clock, monotonic=monotonic
    )
    console = await pairing.refresh_console_code("test")
    await wrong(5)
    assert console_code(tmp_path) != console


async def test_the_console_code_is_replaced_when_it_expires_or_is_used(
    pairing: Pairing, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "doorward_hub.auth.pairing")
    (tmp_path / "pairing-code").write_text("a longer leftover from some other run\n")
    console = await pairing.refresh_console_code("test")
    assert (tmp_path / "pairing-code").read_text() == console + "\n"
    assert (tmp_path / "pairing-code").stat().st_mode & 0o777 == 0o600
    assert f"Pairing code: {console} (valid 15 minutes, one use)" in caplog.text
    clock.now += 15 * 60 - 1
    await pairing.refresh_if_expired()
    assert console_code(tmp_path) == console
    clock.now += 7  # the hub checks now and then, not at the exact second
    await pairing.refresh_if_expired()
    replaced = console_code(tmp_path)
    assert replaced != console
    assert await pairing.redeem(console, "expired console code", source()) is None
    assert await pairing.redeem(replaced, "owner", source()) is not None
    used = console_code(tmp_path)
    assert used != replaced, "a used console code is replaced at once"


async def test_five_wrong_codes_in_a_row_invalidate_every_code(
    pairing: Pairing, tmp_path: Path
) -> None:
    """The threshold is written out here, not imported from the code under test."""

    async def wrong(times: int) -> None:
        for _ in range(times):
            assert await pairing.redeem("AAAA-AAAA", "guess", source()) is None

    console = await pairing.refresh_console_code("test")
    outstanding = await pairing.new_code()
    await wrong(5)
    assert console_code(tmp_path) != console
    assert await pairing.redeem(outstanding, "owner", source()) is None
    assert await pairing.redeem(console, "owner", source()) is None

    # After the lock-out the count started again: the two dead codes just tried were wrong
    # codes one and two, so two more rotate nothing and the fifth does.
    console = await pairing.refresh_console_code("test")
    await wrong(2)
    assert console_code(tmp_path) == console
    await wrong(1)
    assert console_code(tmp_path) != console

    # A good code resets the count: four wrong, one good, four wrong is no lock-out.
    console = await pairing.refresh_console_code("test")
    outstanding = await pairing.new_code()
    await wrong(4)
    assert console_code(tmp_path) == console, "four wrong codes rotate nothing"
    assert await pairing.redeem(outstanding, "owner", source()) is not None, "nor kill other codes"
    console = console_code(tmp_path)  # the good code was not the console's: unchanged
    outstanding = await pairing.new_code()
    await wrong(4)
    assert console_code(tmp_path) == console
    assert await pairing.redeem(outstanding, "owner", source()) is not None
    console = console_code(tmp_path)
    await wrong(5)  # counted from 0 after the good code: the fifth locks out
    assert console_code(tmp_path) != console
