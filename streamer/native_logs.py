"""Keep MediaPipe's native log lines (glog/absl/TFLite) off the user's terminal.

MediaPipe's C++ code writes INFO/WARNING lines straight to file descriptor 2, before and regardless
of ``GLOG_minloglevel``; Python cannot silence them. ``filtered_stderr`` points fd 2 at a pipe and a
thread forwards every line except those, so our own messages and progress bars still show.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

_NATIVE_LINE = re.compile(
    rb"(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\]"
    rb"|INFO: Created TensorFlow Lite"
    rb"|WARNING: All log messages before absl::InitializeLog\(\))[^\n]*\n?"
)


def strip_native_lines(text: bytes) -> bytes:
    """``text`` without MediaPipe's native log lines (also when one lands inside a progress-bar line)."""
    return _NATIVE_LINE.sub(b"", text)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Within the block, drop native log lines written to fd 2; pass everything else through."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): nothing to filter
        yield
        return
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        buf = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buf += chunk
                # forward up to the last line break ('\r' too: progress bars redraw without '\n')
                cut = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
                if cut:
                    os.write(saved, strip_native_lines(buf[:cut]))
                    buf = buf[cut:]
        if buf:
            os.write(saved, strip_native_lines(buf))

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end, so the pump sees EOF
        thread.join(timeout=2)
        os.close(saved)
