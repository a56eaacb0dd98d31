"""The progress bar over a batch's jobs: done, failed, running, overall frames per second, ETA (tqdm's)."""

from __future__ import annotations

import time

from tqdm import tqdm

from streamer.batch.results import JobResult


class BatchProgress:
    """One tqdm bar counting finished jobs; its postfix says how they ended and the overall fps."""

    def __init__(self, total: int, enabled: bool):
        self.bar = tqdm(total=total, unit="job", desc="batch", disable=not enabled, dynamic_ncols=True)
        self.start = time.perf_counter()
        self.ok = self.failed = self.frames = 0

    @property
    def seconds(self) -> float:
        """Wall-clock seconds since the bar started."""
        return time.perf_counter() - self.start

    @property
    def fps(self) -> float:
        """Frames written by all workers together, per wall-clock second."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def finished(self, result: JobResult) -> None:
        """Count a finished job."""
        self.frames += result.frames
        self.ok += result.status == "ok"
        self.failed += result.status == "failed"
        self.bar.update(1)

    def tick(self, running: int) -> None:
        """Refresh the postfix (called while waiting for jobs)."""
        postfix = {"ok": self.ok, "failed": self.failed, "running": running, "fps": f"{self.fps:.1f}"}
        self.bar.set_postfix(postfix, refresh=True)  # a dict keeps this order (keywords would be sorted)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()
