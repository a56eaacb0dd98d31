"""Live latency and quality next to speed: measurements that come from other parts of the project.

- Glass-to-glass latency of a live stream (``benchmarks.glass_to_glass``): one loopback WebRTC peer
  against ``reenact serve`` per generator setting; p50/p95/p99 and drops. Skipped, with the reason,
  in ``--quick`` (it needs a server start and real-time seconds per setting) and where aiortc or a
  loopback stream cannot run.
- Quality (``benchmarks.reenact_quality``, see ``benchmarks/QUALITY.md``): not computed here. When its
  results file exists, its PSNR/SSIM/pose error per generator setting are shown next to the speed rows;
  entries of ``QUALITY_METRICS`` (name -> ``fn(ctx) -> {metric: value}``) are run and reported as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.registry import BenchContext, Row, register
from benchmarks.stats import percentile, summarize

QUALITY_METRICS: dict[str, Callable[[BenchContext], dict[str, Any]]] = {}
#: Percentiles of the live latency kept in the result (the latency-distribution plot draws them).
LATENCY_PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
#: Written by ``python -m benchmarks.reenact_quality ... --json benchmarks/results/quality.json``.
QUALITY_JSON = Path(__file__).resolve().parent / "results" / "quality.json"
QUALITY_SPLIT = "heldout-identities"
QUALITY_NOT_MEASURED = "quality: see benchmarks/QUALITY.md (not measured in this run)"
#: Columns taken from the quality file's summary of one method (name in the file -> name here).
QUALITY_COLUMNS = {
    "psnr_face": "psnr_face_db",
    "ssim_face": "ssim_face",
    "pose_error_deg": "pose_error_deg",
    "identity": "identity_cos",
}


@register("glass_to_glass", "hook", "live-stream glass-to-glass latency through a loopback WebRTC connection")
def bench_glass_to_glass(ctx: BenchContext) -> Iterator[Row]:
    from benchmarks.generator import fixture, settings
    from benchmarks.glass_to_glass import LiveUnavailable, measure_glass_to_glass, why_unavailable

    if ctx.config.quick or ctx.config.live_seconds <= 0:
        note = "skipped in --quick: a live stream needs a server start and 15+ real-time seconds per generator setting"
        yield Row("hook", "glass_to_glass", status="absent", unit="ms", note=note)
        return
    why = why_unavailable()
    if why:
        yield Row("hook", "glass_to_glass", status="absent", unit="ms", note=why)
        return
    for setting in settings(ctx):
        variant: dict[str, Any] = {"transport": "webrtc loopback", "generator": setting.name}
        args = setting.cli_flags()
        if setting.is_rfg:
            fx = fixture(ctx)
            args += ["--weights", str(fx.path)]
            variant["weights"] = fx.label
        try:
            live = measure_glass_to_glass(ctx.inputs.driver, ctx.inputs.source, ctx.config.live_seconds, args)
        except LiveUnavailable as exc:
            yield Row("hook", "glass_to_glass", variant, status="absent", unit="ms", note=str(exc))
            return
        if not live.latencies_ms:
            note = f"no frame came back in the {live.seconds:.0f} s window ({live.sent} sent)"
            yield Row("hook", "glass_to_glass", variant, status="failed", unit="ms", note=note)
            continue
        metrics = {
            "p99_ms": round(percentile(live.latencies_ms, 99), 1),
            "percentiles_ms": {q: round(percentile(live.latencies_ms, q), 1) for q in LATENCY_PERCENTILES},
            "sent": live.sent,
            "received": live.received,
            "dropped": live.lost,
            "drop_pct": round(live.drop_pct, 1),
            "server_stale_drops": live.server_dropped,
            "fps_back": round(live.fps, 2),
            "fps_sent": round(live.send_fps, 2),
        }
        note = (
            f"{live.seconds:.0f} s after a warm-up; latency = client send -> reenacted frame decoded back "
            "(both codecs, loopback RTP; no camera exposure or display scan-out)"
        )
        yield Row(
            "hook", "glass_to_glass", variant, summarize(live.latencies_ms), unit="ms", metrics=metrics, note=note
        )


def read_quality(path: Path | None = None) -> tuple[dict[str, dict[str, Any]], str] | None:
    """Per method: the quality columns of ``QUALITY_SPLIT``, and where they come from; None if there is no file.

    ``path`` defaults to ``QUALITY_JSON`` (looked up at call time).
    """
    path = path if path is not None else QUALITY_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        methods = data["summary"][QUALITY_SPLIT]["methods"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    table = {}
    for method, values in methods.items():
        if isinstance(values, dict):
            table[method] = {ours: values.get(theirs) for theirs, ours in QUALITY_COLUMNS.items()}
    quick = " (a --quick run)" if data.get("quick") else ""
    source = f"benchmarks/results/quality.json{quick}, {data.get('date', 'undated')}, split {QUALITY_SPLIT}"
    return table, source


@register("quality", "hook", "quality of each generator setting (from benchmarks/QUALITY.md's run) next to speed")
def bench_quality(ctx: BenchContext) -> Iterator[Row]:
    from benchmarks.generator import settings

    found = read_quality()
    if found is None:
        yield Row("hook", "quality", status="absent", unit="", note=QUALITY_NOT_MEASURED)
    else:
        table, source = found
        for setting in settings(ctx):
            variant = {"generator": setting.name}
            if setting.name not in table:
                note = (
                    f"{setting.name} is not in {source.split(',')[0]}: run benchmarks.reenact_quality "
                    f"--methods ...,{setting.name} (see benchmarks/QUALITY.md)"
                )
                yield Row("hook", "quality", variant, status="absent", unit="", note=note)
                continue
            note = f"from {source} (not measured in this run)"
            yield Row("hook", "quality", variant, unit="", metrics=table[setting.name], note=note)
    for name, fn in QUALITY_METRICS.items():
        yield Row("hook", "quality", {"metric": name}, unit="", metrics=fn(ctx))
