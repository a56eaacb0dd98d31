"""Metrics to ``metrics.csv`` (long format: step, split, name, value, time) and, when the
``tensorboard`` package is installed (``pip install 'reenact[train]'``), to TensorBoard event files
under ``RUN/tb``."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

HEADER = ["step", "split", "name", "value", "time"]
TENSORBOARD_HINT = "pip install 'reenact[train]' (tensorboard>=2.14,<2.21)"

log = logging.getLogger(__name__)


class MetricsWriter:
    """Appends metric rows; on resume, rows past the checkpoint's step are dropped first."""

    def __init__(self, run_dir: Path, truncate_after: int = 0, enabled: bool = True, tensorboard: bool | None = None):
        """``tensorboard``: None = event files when the package is installed (a warning says when it
        is not), True = required (``InputError`` when missing), False = CSV only."""
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.csv"
        self._tb = None
        if not enabled:
            return
        rows = []
        if self.path.is_file() and truncate_after > 0:
            with self.path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= truncate_after]
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, HEADER)
            w.writeheader()
            w.writerows(rows)
        if tensorboard is False:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # optional: CSV is the record, TensorBoard a convenience
            if tensorboard:
                from streamer.errors import InputError

                raise InputError(f"TensorBoard logging needs the tensorboard package: {TENSORBOARD_HINT}") from None
            log.warning("no TensorBoard event files (%s): %s; metrics go to %s only", exc, TENSORBOARD_HINT, self.path)
            return
        self._tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=truncate_after + 1 if truncate_after else None)

    def write(self, step: int, split: str, metrics: dict[str, float]) -> None:
        """One row per metric."""
        if not self.enabled or not metrics:
            return
        now = f"{time.time():.3f}"
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            for name, value in sorted(metrics.items()):
                w.writerow([step, split, name, f"{float(value):.6g}", now])
        if self._tb is not None:
            for name, value in metrics.items():
                self._tb.add_scalar(f"{split}/{name}", float(value), step)

    def close(self) -> None:
        """Flush TensorBoard."""
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: Path) -> list[dict]:
    """All rows of a run's ``metrics.csv``."""
    with (Path(run_dir) / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))
