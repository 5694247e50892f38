"""The serving hub's malloc tuning: freed video-sized blocks go back to the system."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from .conftest import LOOPBACK, Process, free_port, pair_client
from .test_processes import serve_args, wait_until_serving

# Frees 3 MB blocks the way a thumbnail decoder's frame pool does, keeping a block allocated
# after them (as other threads do), then prints the resident set in kB.
FREED_FRAMES = """
import ctypes, ctypes.util, re, sys
from doorward_hub.core.memory import limit_heap_growth
if sys.argv[1] == "tuned":
    assert limit_heap_growth()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
libc.memset.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
FRAME = 3 * 1024 * 1024
first = libc.malloc(FRAME)
libc.free(first)  # glibc's threshold rises to 3 MB here, unless fixed
frames = [libc.malloc(FRAME) for _ in range(20)]
for frame in frames:
    libc.memset(frame, 1, FRAME)
pin = libc.malloc(512 * 1024)  # above the frames on the heap: nothing trims from its top
for frame in frames:
    libc.free(frame)
status = open("/proc/self/status").read()
print(re.search(r"VmRSS:\\s+(\\d+) kB", status)[1])
"""


def _rss_after_freeing(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FREED_FRAMES, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_frames_leave_the_tuned_heap() -> None:
    untuned, tuned = _rss_after_freeing("default"), _rss_after_freeing("tuned")
    # 20 frames of 3 MB stay resident untuned (60 MB); tuned, they are unmapped when freed.
    assert untuned - tuned > 40 * 1024, (untuned, tuned)


# Frees 100 kB blocks (packet-sized: they come from the arena, not their own mappings) between
# blocks kept, as the stream threads do, then prints the resident set in kB before and after
# returning the free memory, and how long that took in ms.
SCATTERED_PACKETS = """
import ctypes, ctypes.util, re, time
from doorward_hub.core.memory import limit_heap_growth, return_free_memory
assert limit_heap_growth()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
libc.memset.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
PACKET = 100 * 1024
blocks = [libc.malloc(PACKET) for _ in range(400)]
for block in blocks:
    libc.memset(block, 1, PACKET)
for block in blocks[::2] + blocks[1:-1:2]:  # the last one stays: nothing trims from the top
    libc.free(block)
def rss():
    return re.search(r"VmRSS:\\s+(\\d+) kB", open("/proc/self/status").read())[1]
before = rss()
started = time.perf_counter()
returned = return_free_memory()
took = (time.perf_counter() - started) * 1000
print(before, rss(), returned, f"{took:.2f}")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_scattered_free_packets_are_returned() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCATTERED_PACKETS],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    before, after, returned, took = done.stdout.split()
    print(f"returned {int(before) - int(after)} kB in {took} ms")
    # 40 MB of packets were freed below a block still in use: glibc alone keeps them resident.
    assert returned == "True"
    assert int(before) - int(after) > 30 * 1024, (before, after)


GROUP_ONLY_LIBRARIES = ("/vodozemac/", "/Crypto/", "/h3/")
"""Native parts of the Matrix client's crypto (vodozemac, pycryptodome) and of H3: loaded by a
hub in a group, never by one in none (they cost about 17 MB resident)."""


def _loaded_libraries(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split()[-1] for line in maps if "/site-packages/" in line}


async def test_a_hub_in_no_group_does_not_load_the_matrix_client(
    tmp_path: Path, processes: Callable[[list[str], str], Process], http: aiohttp.ClientSession
) -> None:
    port = free_port()
    hub = processes(serve_args(tmp_path / "hub", port), "hub")
    await wait_until_serving(http, hub, port)
    origin = f"http://{LOOPBACK}:{port}"
    token = await pair_client(http, origin, (tmp_path / "hub" / "pairing-code").read_text().strip())
    headers = {"Authorization": f"Bearer {token}"}
    for route in ("neighborhood", "neighborhood/posts"):  # what Home Assistant polls
        async with http.get(f"{origin}/api/v1/{route}", headers=headers) as response:
            assert response.status == 200, await response.text()
    loaded = _loaded_libraries(hub.proc.pid)
    assert any("/av/" in path or "/av.libs/" in path for path in loaded), "the check can see"
    assert not [p for p in loaded if any(part in p for part in GROUP_ONLY_LIBRARIES)], loaded
