"""Baselines measured in the same run, reported as ratios: a plain setup of the same work vs ours.

- the warp network in onnxruntime with default session options vs our settings (1 intra-op thread)
  and vs what ``--backend auto`` runs (``cv2.remap``), on the same real input, interleaved;
- later generators vs the geometric reenactor (the baseline every trained generator must beat).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2

from benchmarks.registry import BenchContext, Row, register
from benchmarks.stats import sample_calls, summarize
from streamer.runtime import configure_threads


def interleaved(ctx: BenchContext, runners: dict[str, Callable[[], object]], rounds: int = 3) -> dict:
    """Time each runner in ``rounds`` alternating blocks (so drifting machine load hits all alike)."""
    cfg = ctx.config
    samples: dict[str, list[float]] = {k: [] for k in runners}
    per_block = max(3, cfg.repeat // rounds)
    for _ in range(rounds):
        for name, run in runners.items():
            budget = cfg.budget_s / rounds
            samples[name] += sample_calls(lambda i, run=run: run(), warmup=1, repeat=per_block, budget_s=budget)
    return {k: summarize(v) for k, v in samples.items()}


@register("baseline", "baseline", "plain onnxruntime (default options) vs our warp settings, same run")
def bench_baselines(ctx: BenchContext) -> Iterator[Row]:
    from benchmarks.model_cost import NETWORKS, _onnx_session

    configure_threads(1)
    for crop in ctx.config.crop_sizes:
        case = NETWORKS["pixel_warp"](ctx, crop)
        module, inputs = case.module, case.inputs
        image = inputs[0][0].permute(1, 2, 0).numpy().astype("uint8")
        map_x, map_y = inputs[1][0, ..., 0].numpy(), inputs[1][0, ..., 1].numpy()
        runners = {
            "onnxruntime default options (baseline)": _onnx_session(module, inputs, None),
            "onnxruntime, 1 intra-op thread (ours: --backend onnxruntime)": _onnx_session(module, inputs, 1),
            "cv2.remap (ours: --backend auto)": lambda im=image, mx=map_x, my=map_y: cv2.remap(
                im, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            ),
        }
        timings = interleaved(ctx, runners)
        base = next(iter(timings.values()))
        for label, timing in timings.items():
            speedup = round(base.median_ms / timing.median_ms, 3)
            metrics = {"baseline_median_ms": round(base.median_ms, 4), "speedup_vs_baseline": speedup}
            yield Row("baseline", "warp", {"crop": crop, "setup": label}, timing, metrics=metrics)
    yield from generator_vs_geometric(ctx)


def generator_vs_geometric(ctx: BenchContext) -> Iterator[Row]:
    """Each trained generator's per-frame time as a ratio to the geometric reenactor's, from this run's rows.

    An RFG row's ``backend`` is its networks' runner; its geometric render uses the OpenCV warp, so it
    is compared with the geometric row on ``opencv`` at the same crop and threads.
    """
    steps = [r for r in ctx.rows if r.name == "reenact.step" and r.status == "ok"]
    geometric = {
        (r.variant["crop"], r.variant["backend"], r.variant["threads"]): r
        for r in steps
        if r.variant["generator"] == "geometric"
    }
    others = [r for r in steps if r.variant["generator"] != "geometric"]
    if not others:
        yield Row(
            "baseline",
            "generator-vs-geometric",
            status="absent",
            note="no trained-generator reenact.step row in this run; the geometric rows are the baseline",
        )
        return
    for row in others:
        key = (row.variant["crop"], row.variant.get("warp", "opencv"), row.variant["threads"])
        base = geometric.get(key)
        if base is None or row.timing is None or base.timing is None:
            continue
        ratio = round(row.timing.median_ms / base.timing.median_ms, 3)
        metrics = {"time_ratio": ratio, "geometric_median_ms": round(base.timing.median_ms, 4)}
        yield Row("baseline", "generator-vs-geometric", dict(row.variant), row.timing, metrics=metrics)
