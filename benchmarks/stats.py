"""Timing statistics: median and spread of repeated measurements, and a timer that collects them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between order statistics (NumPy's default)."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class Summary:
    """Median and spread of ``n`` samples, in milliseconds."""

    n: int
    median_ms: float
    p5_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float

    @property
    def per_second(self) -> float:
        """Throughput implied by the median (calls or frames per second)."""
        return 1000.0 / self.median_ms if self.median_ms > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        """Plain numbers for JSON."""
        return asdict(self)


def summarize(samples_ms: Sequence[float]) -> Summary:
    """Median, p5, p95, min, max and mean of samples given in milliseconds."""
    if not samples_ms:
        raise ValueError("summarize needs at least one sample")
    return Summary(
        n=len(samples_ms),
        median_ms=percentile(samples_ms, 50),
        p5_ms=percentile(samples_ms, 5),
        p95_ms=percentile(samples_ms, 95),
        min_ms=min(samples_ms),
        max_ms=max(samples_ms),
        mean_ms=sum(samples_ms) / len(samples_ms),
    )


def sample_calls(
    fn: Callable[[int], object],
    *,
    warmup: int,
    repeat: int,
    budget_s: float | None = None,
) -> list[float]:
    """Call ``fn(i)`` ``warmup`` times untimed, then ``repeat`` times timed (each call one sample, in ms).

    ``i`` counts calls from 0, so ``fn`` can walk through a list of frames. ``budget_s`` stops the
    timed calls early (after at least 3) when they take longer than that in total.
    """
    for i in range(warmup):
        fn(i)
    samples: list[float] = []
    start = time.perf_counter()
    for i in range(warmup, warmup + repeat):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1000.0)
        if budget_s is not None and len(samples) >= 3 and time.perf_counter() - start > budget_s:
            break
    return samples


def time_calls(fn: Callable[[int], object], *, warmup: int, repeat: int, budget_s: float | None = None) -> Summary:
    """``summarize`` of ``sample_calls``: each call one sample, in milliseconds."""
    return summarize(sample_calls(fn, warmup=warmup, repeat=repeat, budget_s=budget_s))
