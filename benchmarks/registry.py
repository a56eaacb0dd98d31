"""The registry of benches: each is one function ``ctx -> rows``; adding a stage or backend is one entry.

A bench yields ``Row``s. A failure inside a bench becomes a ``failed`` row carrying the error (the
run goes on and the report shows it); something that cannot run here is an ``absent`` row with the
reason, never a made-up number.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from benchmarks.config import BenchConfig
from benchmarks.inputs import BenchInputs
from benchmarks.stats import Summary

log = logging.getLogger(__name__)

#: Row sections, in report order.
SECTIONS = ("stage", "model", "baseline", "end_to_end", "streams", "hook")


@dataclass
class Row:
    """One measurement: a bench at one point of its axes (backend, crop, input, threads)."""

    section: str
    name: str
    variant: dict[str, Any] = field(default_factory=dict)
    timing: Summary | None = None
    status: str = "ok"  # "ok" | "absent" | "failed"
    unit: str = "ms/frame"
    metrics: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "section": self.section,
            "name": self.name,
            "variant": self.variant,
            "status": self.status,
            "unit": self.unit,
            "timing": self.timing.as_dict() if self.timing else None,
            "fps": round(self.timing.per_second, 3) if self.timing else None,
            "metrics": self.metrics,
            "note": self.note,
        }


class BenchContext:
    """What benches share: the config, the inputs, and cached measurements (the matmul peak)."""

    def __init__(self, config: BenchConfig, inputs: BenchInputs):
        self.config = config
        self.inputs = inputs
        self._peaks: dict[str, float] = {}
        self.rows: list[Row] = []

    def peak_gflops(self, threads: int, device: str = "cpu") -> float:
        """This machine's fp32 matmul GFLOP/s at ``threads`` (CPU) or on the GPU (measured once each)."""
        key = "cuda" if device == "cuda" else str(threads)
        if key not in self._peaks:
            from benchmarks.machine import matmul_peak_gflops

            size = max(self.config.matmul_size, 4096) if device == "cuda" else self.config.matmul_size
            self._peaks[key] = matmul_peak_gflops(threads, size, device=device)
        return self._peaks[key]

    @property
    def peaks(self) -> dict[str, float]:
        """Peaks measured so far: by thread count ("1", "2"...) and "cuda"."""
        return dict(self._peaks)


@dataclass(frozen=True)
class Bench:
    """A registered bench."""

    name: str
    section: str
    title: str
    run: Callable[[BenchContext], Iterable[Row]]


BENCHES: dict[str, Bench] = {}


def register(name: str, section: str, title: str) -> Callable[[Callable[[BenchContext], Iterable[Row]]], Any]:
    """Decorator adding a bench under ``name`` (run in registration order)."""
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}; one of {SECTIONS}")

    def add(fn: Callable[[BenchContext], Iterable[Row]]) -> Callable[[BenchContext], Iterable[Row]]:
        if name in BENCHES:
            raise ValueError(f"bench {name!r} is registered twice")
        BENCHES[name] = Bench(name, section, title, fn)
        return fn

    return add


def load_benches() -> dict[str, Bench]:
    """Import the modules that register benches (each registers on import) and return the registry."""
    from benchmarks import baselines, end_to_end, hooks, model_cost, rasterize, stages, startup  # noqa: F401

    return BENCHES


def selected(names: Iterable[str] = ()) -> list[Bench]:
    """The benches to run: all, or those named (``decode``, ``warp``...), by section, then in registry order.

    Section order is run order, whatever order the modules were imported in: baselines compare with
    stage rows already measured, and the live hooks come last.
    """
    benches = load_benches()
    wanted = set(names)
    unknown = wanted - set(benches)
    if unknown:
        raise KeyError(f"unknown bench(es) {sorted(unknown)}; known: {list(benches)}")
    chosen = [b for b in benches.values() if not wanted or b.name in wanted]
    return sorted(chosen, key=lambda b: SECTIONS.index(b.section))


def run_benches(ctx: BenchContext, benches: list[Bench], progress: Callable[[str], None] | None = None) -> list[Row]:
    """Run ``benches`` in order; each bench's rows go to ``ctx.rows`` as they come."""
    for bench in benches:
        t0 = time.perf_counter()
        if progress:
            progress(f"{bench.name}: {bench.title}")
        for row in _guarded(bench, ctx):
            ctx.rows.append(row)
        log.info("bench %s took %.1f s", bench.name, time.perf_counter() - t0)
    return ctx.rows


def _guarded(bench: Bench, ctx: BenchContext) -> Iterator[Row]:
    try:
        yield from bench.run(ctx)
    except Exception as exc:  # noqa: BLE001 - becomes a failed row: the report must show it, the run goes on
        log.debug("bench %s failed:\n%s", bench.name, traceback.format_exc())
        yield Row(bench.section, bench.name, status="failed", note=f"{exc.__class__.__name__}: {exc}")
