"""The serving hub's malloc tuning: freed video-sized blocks go back to the system."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
