"""Pairing codes on a real store without the rest of the hub: expiry on the clock `Pairing`
accepts, one use, the console code file, the lock-out. Fast, so mutation testing
(scripts/mutation) can run it often; the API tests pair through HTTP."""

from __future__ import annotations

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
    return Pairing(stored.pairing_codes, stored.tokens, tmp_path / "pairing-code", clock=clock)


def console_code(tmp_path: Path) -> str:
    return (tmp_path / "pairing-code").read_text().strip()


async def test_codes_look_like_the_docs_and_are_forgiving(pairing: Pairing) -> None:
    code = await pairing.new_code()
    assert re.fullmatch(r"[A-HJ-KM-NP-Z2-9]{4}-[A-HJ-KM-NP-Z2-9]{4}", code), code
    assert normalize_code(" ab cd-efgh ") == "ABCD-EFGH"
    assert await pairing.redeem(code.lower().replace("-", " "), "typed") is not None


async def test_a_code_pairs_once_and_issues_a_stored_token(
    pairing: Pairing, stored: Repositories, clock: Clock
) -> None:
    code = await pairing.new_code()
    issued = await pairing.redeem(code, "Home Assistant")
    assert issued is not None
    assert issued.token_id.startswith("tok_")
    assert len(issued.token) >= 40
    [token] = await stored.tokens.list_tokens()
    assert (token.id, token.client_name, token.created) == (
        issued.token_id,
        "Home Assistant",
        clock.now,
    )
    assert await pairing.redeem(code, "again") is None


async def test_pairing_codes_expire_after_15_minutes(pairing: Pairing, clock: Clock) -> None:
    fresh, stale = await pairing.new_code(), await pairing.new_code()
    clock.now += 15 * 60 - 1
    assert await pairing.redeem(fresh, "in time") is not None
    clock.now += 1
    assert await pairing.redeem(stale, "at the minute") is None


async def test_the_console_code_is_replaced_when_it_expires_or_is_used(
    pairing: Pairing, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "doorward_hub.auth.pairing")
    console = await pairing.refresh_console_code("test")
    assert console_code(tmp_path) == console
    assert (tmp_path / "pairing-code").stat().st_mode & 0o777 == 0o600
    assert f"Pairing code: {console} (valid 15 minutes, one use)" in caplog.text
    clock.now += 15 * 60 - 1
    await pairing.refresh_if_expired()
    assert console_code(tmp_path) == console
    clock.now += 1
    await pairing.refresh_if_expired()
    replaced = console_code(tmp_path)
    assert replaced != console
    assert await pairing.redeem(console, "expired console code") is None
    assert await pairing.redeem(replaced, "owner") is not None
    used = console_code(tmp_path)
    assert used != replaced, "a used console code is replaced at once"


async def test_five_wrong_codes_invalidate_every_code(pairing: Pairing, tmp_path: Path) -> None:
    """The threshold is written out here, not imported from the code under test."""
    console = await pairing.refresh_console_code("test")
    outstanding = await pairing.new_code()
    for _ in range(4):
        assert await pairing.redeem("AAAA-AAAA", "guess") is None
    assert console_code(tmp_path) == console, "four wrong codes rotate nothing"
    assert await pairing.redeem(outstanding, "owner") is not None, "nor kill other codes"
    # The good code reset the count: four more wrong ones are still not a lock-out.
    console = console_code(tmp_path)
    outstanding = await pairing.new_code()
    for _ in range(4):
        assert await pairing.redeem("AAAA-AAAA", "guess") is None
    assert console_code(tmp_path) == console
    assert await pairing.redeem("AAAA-AAAA", "guess") is None  # the fifth in a row
    assert console_code(tmp_path) != console
    assert await pairing.redeem(outstanding, "owner") is None
    assert await pairing.redeem(console, "owner") is None
    assert await pairing.redeem(console_code(tmp_path), "owner") is not None
