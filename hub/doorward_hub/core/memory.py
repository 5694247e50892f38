"""Keep the serving hub's heap from growing with the number of video threads.

Every doorbell's stream thread and every clip-finishing thread gets its own glibc malloc arena,
and glibc raises its mmap threshold to the largest block freed so far: after the first decoded
1080p frame (3 MB) is freed, later frames come from the arena and stay resident as free space.
Measured with 10 doorbells at 1080p: two 48 MB arenas and eight of 6-8 MB, 250 MB RSS in all.
A fixed threshold keeps blocks of 1 MB and more in their own mappings, returned to the system
when freed; fewer arenas keep the free space of the small blocks in fewer places.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

_LOGGER = logging.getLogger(__name__)

# From glibc's <malloc.h>.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

MMAP_THRESHOLD = 1024 * 1024
"""Blocks this large or larger (decoded frames, FFmpeg's I/O buffers) get their own mapping."""
ARENA_MAX = 2
"""Malloc arenas shared by all threads (glibc's default is 8 per core)."""


def limit_heap_growth() -> bool:
    """Tune glibc's malloc for a long-running process with many video threads.

    Call before the threads start. True if applied; False (and nothing changed) where the C
    library is not glibc.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None or getattr(libc, "gnu_get_libc_version", None) is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_ARENA_MAX, ARENA_MAX)
    )
    if not applied:
        _LOGGER.warning("Could not tune the memory allocator; memory use may grow with streams")
    return applied
