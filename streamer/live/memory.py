"""glibc heap settings for long-running live processes.

Each stream runs on a new thread, and glibc gives threads their own malloc arenas, which keep freed
memory: 100 connect/disconnect cycles grew the server's RSS by ~200 MB with no Python object left
alive (measured; with two arenas the growth was ~5 MB over 60 cycles). So the server caps the arenas.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_ARENA_MAX = -8  # mallopt parameter number from glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None  # musl has neither


def limit_malloc_arenas(count: int = 2) -> bool:
    """Cap glibc's malloc arenas for threads started from now on; False where that is not possible."""
    libc = _libc()
    return bool(libc and libc.mallopt(_M_ARENA_MAX, count))


def trim_heap() -> None:
    """Give freed heap memory back to the system (glibc only; a no-op elsewhere)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
