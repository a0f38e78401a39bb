"""Giving a web worker's freed memory back to the system (glibc malloc).

Why: a worker's requests allocate and free tens of megabytes (a search page's HTML is a few
hundred kilobytes, built from many pieces; numpy temporaries; query results), and glibc keeps
what was freed inside its heaps for reuse: the freed pages stay resident and private to the
worker, so each worker's memory ratchets up to the high-water mark of its bursts, and a second
worker adds that high-water mark again (bench/serve_memory.py). `malloc_trim(0)` hands the
free pages of every arena back (MADV_DONTNEED): well under a millisecond here. A daemon thread
per process calls it every `TRIM_EVERY` seconds while the worker is busy (its CPU time moved),
never when idle. `fewer_malloc_arenas` caps the arenas that threads spread allocations over.
Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

TRIM_EVERY = 2.0  # seconds between trims of a busy worker
BUSY_CPU = 0.05  # CPU seconds used since the last trim that count as busy
M_ARENA_MAX = -8  # glibc <malloc.h>

_started: int | None = None  # pid whose trimming thread runs (a forked child starts its own)
_lock = threading.Lock()


def _libc() -> Any | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        return libc
    except (OSError, AttributeError):
        return None


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """At most `arenas` glibc malloc arenas in a web process (the default is 8 per core). Each
    request thread that allocates may get an arena of its own, and each arena keeps the peak of
    what was freed in it (bench/pages.py --memory, 75k catalog, one worker: 243 -> 213 MB of
    anonymous memory after the same load). An operator's MALLOC_ARENA_MAX wins."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, arenas)


def trim() -> bool:
    """Return the free pages of every malloc arena to the system now; False without glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def start_trimming(every: float = TRIM_EVERY) -> bool:
    """Start this process's trimming thread (once per process, forked children included).
    Returns False where there is nothing to trim with (not glibc)."""
    global _started
    libc = _libc()
    if libc is None:
        return False
    with _lock:
        if _started == os.getpid():
            return True
        _started = os.getpid()
    threading.Thread(target=_trim_loop, args=(libc, every), name="malloc-trim",
                     daemon=True).start()
    return True


def _trim_loop(libc: Any, every: float) -> None:
    last = time.process_time()
    while True:
        time.sleep(every)
        now = time.process_time()
        if now - last >= BUSY_CPU:
            libc.malloc_trim(0)
            last = time.process_time()
