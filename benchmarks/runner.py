"""One bench run: machine, inputs, every selected bench, as a JSON-ready dict."""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.config import BenchConfig
from benchmarks.inputs import BenchInputs
from benchmarks.machine import describe_machine
from benchmarks.registry import BenchContext, run_benches, selected

SCHEMA_VERSION = 1


def _stderr(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


def _load_average() -> float | None:
    """1-minute load average (other users of the machine make timings noisy), None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _default_tracker() -> str:
    """The tracker the pipeline uses by default (``detector`` before ``create_tracker`` existed)."""
    import streamer.tracking as tracking

    return getattr(tracking, "DEFAULT_TRACKER", "detector")


def run_bench(
    config: BenchConfig,
    command: str = "reenact bench",
    progress: Callable[[str], None] | None = _stderr,
) -> dict:
    """Run the benches ``config`` selects; the result holds the machine, inputs, config and every row."""
    start = time.perf_counter()
    load_start = _load_average()
    benches = selected(config.stages)
    with tempfile.TemporaryDirectory(prefix="reenact-bench-") as tmp:
        inputs = BenchInputs.resolve(config, Path(tmp))
        ctx = BenchContext(config, inputs)
        if progress:
            progress(f"inputs: {inputs.origin}")
        described = inputs.describe()
        run_benches(ctx, benches, progress)
    return {
        "schema": SCHEMA_VERSION,
        "command": command,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": round(time.perf_counter() - start, 1),
        "machine": {**describe_machine(), "load_average_1min": {"start": load_start, "end": _load_average()}},
        "config": config.as_dict(),
        "inputs": described,
        "peak_gflop_s": {key: round(g, 1) for key, g in ctx.peaks.items()},
        "benches": [b.name for b in benches],
        "defaults": {"tracker": _default_tracker()},
        "rows": [r.as_dict() for r in ctx.rows],
    }
