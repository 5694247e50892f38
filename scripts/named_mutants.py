"""The seven bugs of issue 16, applied one at a time by hand: each must make its guarding tests
fail. Run by scripts/named_mutants in a copy of the checkout (the bugs are written to disk):

    python scripts/named_mutants.py        inside the toolchain, from the copy's root

Each mutant is an exact piece of source and its buggy replacement; if the piece is no longer in
the module (someone changed the code), the mutant is reported as "not applicable" and must be
written anew. Exit 1 unless every mutant applies and is caught."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HUB = "hub/doorward_hub"


@dataclass(frozen=True)
class Mutant:
    """A deliberate bug: `old` (exactly once in `module`) becomes `new`."""

    name: str
    module: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = (
    Mutant(
        "audio is recorded always (record_audio ignored)",
        f"{HUB}/recording/recorder.py",
        "audio=doorbell.record_audio,",
        "audio=True,",
        (
            "tests/hub/test_recording.py::"
            "test_a_new_doorbell_records_no_audio_until_the_owner_switches_it_on",
        ),
    ),
    Mutant(
        "privacy mode mid-clip keeps the clip",
        f"{HUB}/recording/recorder.py",
        "stream.stop(abort=doorbell.privacy_mode)",
        "stream.stop()",
        (
            "tests/hub/test_recording.py::"
            "test_privacy_mode_discards_the_clip_being_written_and_records_no_press",
        ),
    ),
    Mutant(
        "the DoorBird schedule window (wrap-around written the wrong way) never fires",
        f"{HUB}/devices/drivers/doorbird/registration.py",
        '{"from": "104400", "to": "104399"}',
        '{"from": "104399", "to": "104400"}',
        ("tests/hub/test_doorbird.py::test_the_hub_registers_outputs_that_fire_all_week",),
    ),
    Mutant(
        "free-disk retention deletes every clip once short of room",
        f"{HUB}/recording/library.py",
        "            while kept and await asyncio.to_thread(self.free_bytes, self.folder) < floor:",
        "            short = await asyncio.to_thread(self.free_bytes, self.folder) < floor\n"
        "            while kept and short:",
        ("tests/hub/test_recording.py::test_free_disk_retention_deletes_only_until_there_is_room",),
    ),
    Mutant(
        "per-doorbell retention_days ignored",
        f"{HUB}/recording/library.py",
        "days = self._retention_days(clip.doorbell_id) or self._config.retention_days",
        "days = self._config.retention_days",
        ("tests/hub/test_recording.py::test_each_doorbell_keeps_clips_for_its_own_retention_days",),
    ),
    Mutant(
        "pairing codes never expire",
        f"{HUB}/storage/pairing_codes.py",
        '"DELETE FROM pairing_codes WHERE expires <= ?"',
        '"DELETE FROM pairing_codes WHERE 0 AND expires <= ?"',
        (
            "tests/hub/test_pairing_codes.py::test_pairing_codes_expire_after_15_minutes",
            "tests/hub/test_pairing_codes.py::test_an_unused_code_dies_of_age_alone",
        ),
    ),
    Mutant(
        "DoorBird motion never stops",
        f"{HUB}/devices/drivers/doorbird/notifications.py",
        "                await self._deliver(device_event(EventType.MOTION_STOP))\n",
        "",
        ("tests/hub/test_doorbird.py::test_doorbird_motion_stops_after_the_hold_time",),
    ),
)


def run_tests(tests: tuple[str, ...]) -> tuple[bool, float, str]:
    """(passed, seconds, last line of pytest's output)."""
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-p", "no:homeassistant", "-p", "no:cacheprovider"]
    result = subprocess.run(  # noqa: S603 - our own interpreter and test files
        [*command, "-x", "-q", *tests],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.strip().splitlines() or ["(no output)"]
    return result.returncode == 0, time.monotonic() - started, lines[-1]


def main() -> int:
    """Apply each mutant, run its tests, revert; print one line per mutant."""
    guards = tuple(dict.fromkeys(test for mutant in MUTANTS for test in mutant.tests))
    passed, seconds, summary = run_tests(guards)
    print(f"unmutated: the {len(guards)} guarding tests {summary} ({seconds:.0f} s)")
    if not passed:
        return 1
    caught = 0
    for number, mutant in enumerate(MUTANTS, 1):
        path = Path(mutant.module)
        source = path.read_text()
        if source.count(mutant.old) != 1:
            print(f"{number}. {mutant.name}: NOT APPLICABLE ({mutant.module} changed)")
            continue
        path.write_text(source.replace(mutant.old, mutant.new))
        try:
            passed, seconds, summary = run_tests(mutant.tests)
        finally:
            path.write_text(source)
        verdict = "SURVIVED" if passed else "caught"
        caught += not passed
        print(f"{number}. {mutant.name} [{mutant.module}]: {verdict}: {summary} ({seconds:.0f} s)")
    print(f"{caught} of {len(MUTANTS)} named mutants caught")
    return 0 if caught == len(MUTANTS) else 1


if __name__ == "__main__":
    sys.exit(main())
