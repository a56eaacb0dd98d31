"""Hooks for measurements whose code lands later; until then they report ``absent`` with the reason.

- Glass-to-glass latency of a live stream: when ``streamer.webrtc`` provides
  ``measure_glass_to_glass(driver: Path, source: Path, seconds: float) -> list[float]`` (one latency
  in ms per frame, camera capture to displayed frame), this bench calls it and reports the spread.
- Quality next to speed: each entry of ``QUALITY_METRICS`` (name -> ``fn(ctx) -> {metric: value}``)
  is run and reported; the generator issue adds its metrics (e.g. LPIPS, AKD, identity similarity).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.registry import BenchContext, Row, register
from benchmarks.stats import summarize

QUALITY_METRICS: dict[str, Callable[[BenchContext], dict[str, Any]]] = {}

_WEBRTC_MODULE = "streamer.webrtc"
_WEBRTC_FUNCTION = "measure_glass_to_glass"


@register("glass_to_glass", "hook", "live-stream glass-to-glass latency through WebRTC")
def bench_glass_to_glass(ctx: BenchContext) -> Iterator[Row]:
    if importlib.util.find_spec(_WEBRTC_MODULE) is None:
        reason = f"{_WEBRTC_MODULE} does not exist yet (hook: {_WEBRTC_MODULE}.{_WEBRTC_FUNCTION})"
        yield Row("hook", "glass_to_glass", status="absent", unit="ms", note=reason)
        return
    try:
        module = importlib.import_module(_WEBRTC_MODULE)
    except ImportError as exc:
        reason = f"{_WEBRTC_MODULE} cannot be imported here ({exc})"
        yield Row("hook", "glass_to_glass", status="absent", unit="ms", note=reason)
        return
    measure = getattr(module, _WEBRTC_FUNCTION, None)
    if measure is None:
        reason = f"{_WEBRTC_MODULE} has no {_WEBRTC_FUNCTION}() yet"
        yield Row("hook", "glass_to_glass", status="absent", unit="ms", note=reason)
        return
    latencies = measure(ctx.inputs.driver, ctx.inputs.source, 5.0 if ctx.config.quick else 20.0)
    yield Row("hook", "glass_to_glass", {"transport": "webrtc"}, summarize(latencies), unit="ms")


@register("quality", "hook", "quality metrics of the generators (next to their speed)")
def bench_quality(ctx: BenchContext) -> Iterator[Row]:
    if not QUALITY_METRICS:
        note = (
            "no quality metric is registered yet (the generator issue adds them); this run's real "
            "self-consistency numbers: identity_psnr_db on reenact.step, max_abs_diff_vs_opencv on warp"
        )
        yield Row("hook", "quality", status="absent", unit="", note=note)
        return
    for name, fn in QUALITY_METRICS.items():
        yield Row("hook", "quality", {"metric": name}, unit="", metrics=fn(ctx))
