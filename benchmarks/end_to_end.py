"""End to end: ``streamer.convert.convert`` on the driver clip, alone and as N concurrent streams.

Frames per second are ``ConvertSummary.fps``: frames over the time from the first decoded frame to
the last encoded one (model loading and source preparation excluded, as ``convert`` reports it).
``convert`` runs once per generator setting (``--generator``/``--integrator``, its default runner);
concurrent streams use the default generator.
Concurrent streams are N processes (the GIL would serialise threads) converting the same clip at
once, released together by a barrier.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.registry import BenchContext, Row, register
from benchmarks.stats import summarize
from streamer.runtime import configure_threads

_STREAM_TIMEOUT_S = 300


def _options(ctx: BenchContext, out: Path, **generator):
    from streamer.convert import ConvertOptions

    return ConvertOptions(source=ctx.inputs.source, driver=ctx.inputs.driver, out=out, progress=False, **generator)


@register("convert", "end_to_end", "reenact convert end to end (decode -> track/reenact/paste -> encode)")
def bench_convert(ctx: BenchContext) -> Iterator[Row]:
    from benchmarks.generator import fixture, settings
    from streamer.convert import convert

    runs = 1 if ctx.config.quick else ctx.config.passes
    for setting in settings(ctx):
        # Named even for the warp alone: the product's default generator is the RFG, so an empty choice
        # timed the RFG under the "geometric" label (RESULTS.md until 2026-12-08).
        generator, variant_extra = {"generator": "geometric"}, {}
        if setting.is_rfg:
            fx = fixture(ctx)
            generator = {"generator": "rfg", "integrator": setting.integrator, "weights": fx.path}
            variant_extra = {"weights": fx.label}
        for threads in ctx.config.threads:
            configure_threads(threads)
            samples, frames = [], 0
            for k in range(runs):
                out = ctx.inputs.workdir / f"convert_{setting.name}_t{threads}_{k}.mp4"
                summary = convert(_options(ctx, out, max_seconds=ctx.config.convert_max_seconds, **generator))
                samples.append(summary.seconds * 1000.0 / summary.frames)
                frames = summary.frames
            timing = summarize(samples)
            metrics = {
                "frames": frames,
                "target_fps": round(ctx.inputs.fps, 3),
                "backend": summary.backend,
                "generator": summary.generator,
            }
            clip = (
                f"first {ctx.config.convert_max_seconds:g} s of the clip" if ctx.config.convert_max_seconds else "clip"
            )
            note = f"{runs} run(s) over the {clip}, each a fresh pipeline; samples are whole runs"
            variant = {"threads": threads, "generator": setting.name, **variant_extra}
            yield Row("end_to_end", "convert", variant, timing, metrics=metrics, note=note)
    configure_threads(1)


def _stream_worker(opts, threads: int, barrier, results, index: int) -> None:
    """One stream in its own process: set up, wait for the others, convert, report."""
    try:
        configure_threads(threads)
        from streamer.convert import convert

        barrier.wait(timeout=_STREAM_TIMEOUT_S)
        summary = convert(opts)
        results.put((index, summary.frames, summary.seconds, time.time(), None))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which reports it as a failed row
        results.put((index, 0, 0.0, time.time(), f"{exc.__class__.__name__}: {exc}"))


def run_streams(ctx: BenchContext, n: int, threads: int = 1) -> list[tuple[int, int, float, float, str | None]]:
    """Convert the driver clip in ``n`` processes at once; (index, frames, seconds, end time, error) each."""
    spawn = mp.get_context("spawn")
    barrier = spawn.Barrier(n)
    results = spawn.Queue()
    procs = []
    for i in range(n):
        opts = _options(ctx, ctx.inputs.workdir / f"stream_{n}_{i}.mp4")
        p = spawn.Process(target=_stream_worker, args=(opts, threads, barrier, results, i), name=f"stream-{i}")
        p.start()
        procs.append(p)
    out = []
    deadline = time.time() + _STREAM_TIMEOUT_S
    try:
        while len(out) < n:
            out.append(results.get(timeout=max(1.0, deadline - time.time())))
    except queue.Empty:
        out.append((-1, 0, 0.0, time.time(), f"timed out after {_STREAM_TIMEOUT_S} s"))
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    return out


@register("streams", "streams", "concurrent streams: N convert processes on one clip, until real time fails")
def bench_streams(ctx: BenchContext) -> Iterator[Row]:
    target = ctx.inputs.fps
    cfg = ctx.config
    for n in range(1, cfg.max_streams + 1):
        results = run_streams(ctx, n)
        errors = [r[4] for r in results if r[4]]
        if errors:
            yield Row("streams", "convert", {"streams": n}, status="failed", note=errors[0])
            return
        fps = [frames / seconds for _, frames, seconds, _, _ in results]
        start = min(end - seconds for _, _, seconds, end, _ in results)
        wall = max(end for _, _, _, end, _ in results) - start
        total = sum(frames for _, frames, _, _, _ in results)
        real_time = min(fps) >= target
        metrics = {
            "aggregate_fps": round(total / wall, 2),
            "per_stream_fps_min": round(min(fps), 2),
            "per_stream_fps_median": round(sorted(fps)[len(fps) // 2], 2),
            "target_fps": round(target, 3),
            "real_time": real_time,
        }
        timing = summarize([1000.0 / f for f in fps])
        note = "timing: per-stream ms/frame across the N streams; threads per stream: 1"
        yield Row("streams", "convert", {"streams": n}, timing, unit="ms/frame/stream", metrics=metrics, note=note)
        if not real_time and n >= cfg.min_streams:
            return
