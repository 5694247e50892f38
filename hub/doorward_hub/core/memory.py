"""Keep the serving hub's heap from growing with the number of video threads.

Every doorbell's stream thread and every clip-finishing thread gets its own glibc malloc arena,
and glibc raises its mmap threshold to the largest block freed so far: after the first decoded
1080p frame (3 MB) is freed, later frames come from the arena and stay resident as free space.
Measured with 10 doorbells at 1080p: two 48 MB arenas and eight of 6-8 MB, 250 MB RSS in all.
A fixed threshold keeps blocks of 1 MB and more in their own mappings, returned to the system
when freed; fewer arenas keep the free space of the small blocks in fewer places.

Smaller blocks (packets, fragments, Python objects) are freed in stream order between blocks
still in use, so an arena's free space lies scattered below its top, where glibc's own trimming
never reaches: `return_free_memory` hands those pages back, every `RETURN_INTERVAL` seconds.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging

_LOGGER = logging.getLogger(__name__)

# From glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

MMAP_THRESHOLD = 1024 * 1024
"""Blocks this large or larger (decoded frames, FFmpeg's I/O buffers) get their own mapping."""
ARENA_MAX = 2
"""Malloc arenas shared by all threads (glibc's default is 8 per core)."""
TRIM_THRESHOLD = 4 * 1024 * 1024
"""Free space an arena keeps at its top before free() hands it back. Setting the mmap threshold
pins glibc's trim threshold at 128 kB, and then the packets freed and allocated again in every
stream's rhythm were returned and faulted back in many times a second (zeroing every page):
here the periodic `return_free_memory` returns it instead."""
RETURN_INTERVAL = 10.0
"""Seconds between handing malloc's free pages back to the system."""


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (whose malloc these tunings are for), else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    if getattr(libc, "gnu_get_libc_version", None) is None:
        return None
    return libc


def limit_heap_growth() -> bool:
    """Tune glibc's malloc for a long-running process with many video threads.

    Call before the threads start. True if applied; False (and nothing changed) where the C
    library is not glibc.
    """
    libc = _glibc()
    mallopt = None if libc is None else getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = all(
        mallopt(option, value)
        for option, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (_M_ARENA_MAX, ARENA_MAX),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        )
    )
    if not applied:
        _LOGGER.warning("Could not tune the memory allocator; memory use may grow with streams")
    return applied


def return_free_memory() -> bool:
    """Hand the free pages inside malloc's arenas back to the system (glibc's `malloc_trim`).

    Blocking (it walks every arena's free blocks): call it off the event loop. True if memory was
    returned; False if none was, or where the C library is not glibc.
    """
    libc = _glibc()
    trim = None if libc is None else getattr(libc, "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return bool(trim(0))


async def keep_returning_free_memory(interval: float = RETURN_INTERVAL) -> None:
    """Forever: every `interval` seconds, return malloc's free pages (in a worker thread)."""
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(return_free_memory)
