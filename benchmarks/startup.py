"""Start-up: how long a 5-frame ``reenact convert`` (default generator) takes in a fresh process, against
the bare import of the libraries it must load (issue 16's target: within 1.5 s of that).

Each run is a new interpreter, timed from spawn to exit. "warm" runs find the exported ONNX graphs of
the RFG in the cache (``streamer.reenactors.onnx_cache``); "cold" runs get an empty cache folder and pay
the export (torch import included). Runs of the three kinds are interleaved, so a machine that gets
busier part-way affects them alike.

Standalone: ``python -m benchmarks.startup [--runs N] [--before DIR]`` (the bundled example as input);
``--before`` also times the same conversion with the code in DIR (e.g. ``git archive`` of an older
commit), interleaved with the rest, so before and after see the same machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.registry import BenchContext, Row, register
from benchmarks.stats import Summary, summarize

#: What a default conversion cannot do without: video I/O, images, OpenCV, the geometric warp's
#: triangulation, the landmark detector and the RFG's runtime.
REQUIRED_LIBS = ("numpy", "cv2", "av", "PIL.Image", "scipy.spatial", "mediapipe", "onnxruntime")
FRAMES = 5
TARGET_OVERHEAD_S = 1.5


REPO = Path(__file__).resolve().parents[1]


def _timed(argv: list[str], env: dict[str, str], cwd: Path = REPO) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return seconds, proc.stdout


def bare_import_argv() -> list[str]:
    """A fresh interpreter that imports ``REQUIRED_LIBS`` and exits."""
    return [sys.executable, "-c", "import " + ", ".join(REQUIRED_LIBS)]


def convert_argv(source: Path, driver: Path, out: Path, fps: float) -> list[str]:
    """``reenact convert`` of the driver's first ``FRAMES`` frames with the default generator."""
    seconds = (FRAMES - 0.5) / fps
    return [sys.executable, "-m", "streamer.cli", "convert", "--source", str(source), "--driver", str(driver),
            "--out", str(out), "--max-seconds", f"{seconds:.4f}", "--quiet"]  # fmt: skip


def measure(
    source: Path,
    driver: Path,
    fps: float,
    runs: int,
    workdir: Path,
    before: Path | None = None,
    cold: bool = True,
) -> dict[str, list[float]]:
    """Seconds per run: {"bare import", "convert (warm cache)", "convert (cold cache)"}, and
    "convert (code before)" with the code in ``before``."""
    env = dict(os.environ, GLOG_minloglevel="2")
    warm_cache = workdir / "cache-warm"
    warm_env = dict(env, REENACT_CACHE_DIR=str(warm_cache))
    out = workdir / "startup.mp4"
    _timed(convert_argv(source, driver, out, fps), warm_env)  # fills the warm cache (and the OS file cache)
    samples: dict[str, list[float]] = {"bare import": [], "convert (warm cache)": [], "convert (cold cache)": []}
    if before is not None:
        samples["convert (code before)"] = []
        _timed(convert_argv(source, driver, out, fps), env, cwd=before)  # its own warm-up
    for k in range(runs):
        samples["bare import"].append(_timed(bare_import_argv(), env)[0])
        seconds, stdout = _timed(convert_argv(source, driver, out, fps), warm_env)
        if f": {FRAMES} frames" not in stdout:
            raise RuntimeError(f"expected a {FRAMES}-frame conversion, got: {stdout.strip()[:200]}")
        samples["convert (warm cache)"].append(seconds)
        if cold:
            cold_env = dict(env, REENACT_CACHE_DIR=str(workdir / f"cache-cold-{k}"))
            samples["convert (cold cache)"].append(_timed(convert_argv(source, driver, out, fps), cold_env)[0])
        if before is not None:
            before_env = dict(env, PYTHONPATH=str(before), REENACT_CACHE_DIR=str(workdir / f"cache-before-{k}"))
            seconds = _timed(convert_argv(source, driver, out, fps), before_env, before)[0]
            samples["convert (code before)"].append(seconds)
    return samples


def _rows(samples: dict[str, list[float]], note: str) -> Iterator[Row]:
    bare = summarize([s * 1000 for s in samples["bare import"]])
    for phase, seconds in samples.items():
        if not seconds:
            yield Row("end_to_end", "startup", {"phase": phase}, status="absent", note="skipped in --quick")
            continue
        timing = summarize([s * 1000 for s in seconds])
        metrics: dict = {"runs": len(seconds), "libraries": ", ".join(REQUIRED_LIBS)}
        if phase != "bare import":
            over = (timing.median_ms - bare.median_ms) / 1000
            metrics |= {"frames": FRAMES, "over_bare_import_s": round(over, 2), "target_s": TARGET_OVERHEAD_S}
        yield Row("end_to_end", "startup", {"phase": phase}, timing, unit="ms/run", metrics=metrics, note=note)


@register("startup", "end_to_end", f"start-up: a {FRAMES}-frame default convert in a fresh process vs bare imports")
def bench_startup(ctx: BenchContext) -> Iterator[Row]:
    quick = ctx.config.quick
    runs = 1 if quick else ctx.config.passes
    with tempfile.TemporaryDirectory(prefix="reenact-startup-", dir=ctx.inputs.workdir) as tmp:
        samples = measure(ctx.inputs.source, ctx.inputs.driver, float(ctx.inputs.fps), runs, Path(tmp), cold=not quick)
    yield from _rows(samples, f"{runs} run(s) of each, interleaved; wall time from spawn to exit")


def format_table(samples: dict[str, list[float]]) -> str:
    """Plain-text table: median and range per phase, and the overhead over the bare import."""
    bare: Summary = summarize([s * 1000 for s in samples["bare import"]])
    lines = [f"{'phase':24s} {'median s':>9s} {'min-max s':>13s} {'over bare import s':>19s}"]
    for phase, seconds in samples.items():
        if not seconds:
            continue
        t = summarize([s * 1000 for s in seconds])
        over = "" if phase == "bare import" else f"{(t.median_ms - bare.median_ms) / 1000:+.2f}"
        spread = f"{t.min_ms / 1000:6.2f}-{t.max_ms / 1000:<6.2f}"
        lines.append(f"{phase:24s} {t.median_ms / 1000:9.2f} {spread} {over:>19s}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, default=None, help="a source tree of the code to compare with")
    args = parser.parse_args(argv)
    from streamer.examples import example_source_path, make_example_driver

    with tempfile.TemporaryDirectory(prefix="reenact-startup-") as tmp:
        driver = make_example_driver(Path(tmp) / "driver.mp4", seconds=1.0)
        samples = measure(example_source_path(), driver, 25.0, args.runs, Path(tmp), args.before)
    print(f"libraries: {', '.join(REQUIRED_LIBS)}; {FRAMES}-frame default convert of the bundled example")
    print(format_table(samples))


if __name__ == "__main__":
    main()
