"""OpenCV capture of a local camera, or a video file looped at its own rate (for testing without a camera).

A thread reads frames into a latest-wins slot, so the consumer always gets the newest frame and a
slow pipeline drops stale ones instead of falling behind.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from streamer.errors import InputError
from streamer.live.slots import LatestSlot

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0


def parse_device(device: str) -> int | Path:
    """A camera index ("0") or a video file path."""
    return int(device) if device.isdigit() else Path(device)


class CaptureSource:
    """Frames from ``cv2.VideoCapture`` on a thread; ``slot.get()`` returns the newest (None once stopped)."""

    def __init__(self, device: int | Path):
        self.device = device
        self.is_file = isinstance(device, Path)
        if self.is_file and not Path(device).is_file():
            raise InputError(f"video file not found: {device}")
        self._cap = cv2.VideoCapture(str(device) if self.is_file else device)
        if not self._cap.isOpened():
            what = f"video file {device}" if self.is_file else f"camera {device}"
            raise InputError(f"cannot open {what} (is it connected and not used by another program?)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else DEFAULT_FPS
        self.slot: LatestSlot[np.ndarray] = LatestSlot()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.frames = 0
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> np.ndarray | None:
        ok, frame = self._cap.read()
        if not ok and self.is_file and self.frames > 0:  # end of the clip: loop
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        return frame if ok else None

    def _run(self) -> None:
        start = time.monotonic()
        try:
            while not self._stop.is_set():
                frame = self._read()
                if frame is None:
                    self.error = f"no frame from {self.device}"
                    return
                self.frames += 1
                if self.is_file:  # a file reads as fast as it decodes: pace it like a camera
                    self._stop.wait(max(0.0, start + self.frames / self.fps - time.monotonic()))
                self.slot.put(frame)
        finally:
            self.slot.close()

    def stop(self) -> None:
        """Stop reading and release the device."""
        self._stop.set()
        self.slot.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._cap.release()
