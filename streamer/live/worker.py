"""A thread per stream: takes the newest input, applies pending controls first, processes, emits.

Bridges a live producer (the event loop's receiver, a capture thread) and a consumer through a
latest-wins slot, so when processing is slower than the source it always works on the newest frame.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from streamer.live.slots import LatestSlot
from streamer.live.stream import Control, LiveStream

log = logging.getLogger(__name__)

In = TypeVar("In")

_CONTROL_BACKLOG = 16  # controls are tiny and rare; a client flooding them loses the oldest


class StreamWorker(Generic[In]):
    """Owns a ``LiveStream`` on its own thread; ``handle(stream, item)`` does one frame's work."""

    def __init__(self, stream: LiveStream, handle: Callable[[LiveStream, In], None], name: str):
        self.stream = stream
        self.inputs: LatestSlot[In] = LatestSlot()
        self._controls: collections.deque[Control] = collections.deque(maxlen=_CONTROL_BACKLOG)
        self._handle = handle
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: In) -> None:
        """Offer a frame; an unprocessed older one is dropped."""
        self.inputs.put(item)

    def control(self, control: Control) -> None:
        """Queue a control; it runs before the next frame (its own lane: never dropped for frames)."""
        self._controls.append(control)

    def _apply_controls(self) -> None:
        while self._controls:
            self.stream.apply(self._controls.popleft())

    def _run(self) -> None:
        try:
            self.stream.open()
            self.ready.set()
            while (item := self.inputs.get()) is not None:
                self._apply_controls()
                self._handle(self.stream, item)
        except Exception as exc:  # noqa: BLE001 - reported by the owner through ``error``
            log.exception("stream worker %s failed", self._thread.name)
            self.error = exc
        finally:
            self.ready.set()
            self.stream.close()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop after the current frame and release the stream; True when the thread ended."""
        self.inputs.close()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
