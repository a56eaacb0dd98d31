"""Per-stream counters: frames in/out, faces, drops, output rate and latency percentiles."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class StatsSnapshot:
    """A stream's numbers at one moment (rates over the last ``window_s`` seconds)."""

    received: int
    processed: int
    faces: int
    dropped: int  # driver frames replaced before processing (stale) + outputs the sender skipped
    fps: float
    latency_p50_ms: float
    latency_p95_ms: float

    def as_dict(self) -> dict:
        return asdict(self)


class StreamStats:
    """Thread-safe: the receiver counts arrivals, the worker counts outputs and their latency."""

    def __init__(self, window_s: float = 2.0, samples: int = 240):
        self.window_s = window_s
        self._lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.faces = 0
        self._done: deque[float] = deque(maxlen=samples)
        self._latency: deque[float] = deque(maxlen=samples)

    def frame_in(self) -> None:
        with self._lock:
            self.received += 1

    def frame_out(self, latency_s: float, face: bool) -> None:
        with self._lock:
            self.processed += 1
            self.faces += int(face)
            self._done.append(time.monotonic())
            self._latency.append(latency_s)

    def snapshot(self, dropped: int) -> StatsSnapshot:
        """Current numbers; ``dropped`` comes from the slots that did the dropping."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._done if now - t <= self.window_s]
            lat = np.array(self._latency, np.float64) * 1000.0
            processed, received, faces = self.processed, self.received, self.faces
        fps = 0.0
        if len(recent) >= 2:
            fps = (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)
        p50, p95 = (float(np.percentile(lat, 50)), float(np.percentile(lat, 95))) if len(lat) else (0.0, 0.0)
        return StatsSnapshot(received, processed, faces, dropped, round(fps, 2), round(p50, 1), round(p95, 1))
