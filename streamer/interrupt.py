"""Ctrl-C that cannot be lost.

Python turns SIGINT into ``KeyboardInterrupt`` at the next bytecode the main thread runs; when that is
inside a finaliser (a ``__del__`` or a garbage-collector callback run between two frames), the exception
is printed as "Exception ignored" and dropped, and a long conversion ran on to the end. ``sigint_guard``
also records the signal, and ``raise_if_interrupted`` (called once per frame by long loops) raises it
again where it cannot be swallowed.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_interrupted = threading.Event()


def _on_sigint(signum, frame) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigint_guard() -> Iterator[None]:
    """Within: SIGINT raises ``KeyboardInterrupt`` as usual and is remembered (main thread only; elsewhere,
    or when SIGINT is ignored, nothing changes)."""
    _interrupted.clear()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN,
        None,
    ):
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _interrupted.clear()


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if SIGINT arrived under ``sigint_guard`` (even if it was swallowed)."""
    if _interrupted.is_set():
        raise KeyboardInterrupt
