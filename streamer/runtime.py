"""Process-wide runtime settings (threads)."""

from __future__ import annotations

import os

#: Measured on a 2-core machine: torch at 2 threads went from 13 ms to 180 ms a forward when the
#: other core was busy, while 1 thread held 9 ms; with decode and encode in their own threads,
#: one compute thread is the default.
DEFAULT_THREADS = 1


def thread_count(threads: int | None = None) -> int:
    """The compute threads ``--threads`` asks for (None: the default, 0: every core), without setting them."""
    if threads == 0:
        return os.cpu_count() or 1
    return DEFAULT_THREADS if threads is None else max(1, int(threads))


def configure_threads(threads: int | None = None) -> int:
    """Set OpenCV's (and torch's, if imported) intra-op threads; returns the count used."""
    import cv2

    n = thread_count(threads)
    cv2.setNumThreads(n)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    return n
