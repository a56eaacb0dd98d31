"""Plots with matplotlib (a mediapipe dependency; imported lazily).

Per-stage stacked bars (per input size, and per generator setting), fps vs concurrent streams, and the
live glass-to-glass latency distribution per generator setting.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import DEFAULT_GENERATOR_BACKEND, PIPELINE_STAGES, default_point, pick, rows_of


def matplotlib_missing() -> str | None:
    """None when matplotlib can be imported, else the reason."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        return f"matplotlib is not installed ({exc}); no plot written"
    return None


def _stage_bars(ax, result: dict) -> None:
    prefs = default_point(result)
    heights = result["config"]["input_heights"]
    labels = [f"{h}p" for h in heights]
    bottoms = [0.0] * len(labels)
    for stage in PIPELINE_STAGES:
        values = []
        for label in labels:
            impl = result.get("defaults", {}).get("tracker") if stage == "track" else prefs["impl"]
            row = pick(rows_of(result, "stage", stage), {**prefs, "input": label, "impl": impl})
            values.append(row["timing"]["median_ms"] if row else 0.0)
        ax.bar(labels, values, bottom=bottoms, label=f"{stage} ({impl})" if stage == "track" else stage)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    budget = 1000.0 / result["inputs"]["driver_fps"]
    ax.axhline(budget, color="black", linestyle="--", linewidth=1, label=f"real time ({budget:.0f} ms)")
    ax.set_ylabel("ms per frame (median)")
    ax.set_title(f"per-stage time, crop {prefs['crop']}, 1 thread")
    ax.legend(fontsize=7, loc="upper left")


def _streams(ax, result: dict) -> None:
    rows = rows_of(result, "streams")
    if not rows:
        ax.text(0.5, 0.5, "streams not measured", ha="center", va="center", transform=ax.transAxes)
        return
    n = [r["variant"]["streams"] for r in rows]
    ax.plot(n, [r["metrics"]["aggregate_fps"] for r in rows], "o-", label="aggregate fps")
    ax.plot(n, [r["metrics"]["per_stream_fps_min"] for r in rows], "s-", label="slowest stream fps")
    target = rows[0]["metrics"]["target_fps"]
    ax.axhline(target, color="black", linestyle="--", linewidth=1, label=f"driver fps ({target:g})")
    ax.set_xticks(n)
    ax.set_xlabel("concurrent streams (processes)")
    ax.set_ylabel("frames per second")
    ax.set_title("convert: fps vs concurrent streams")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)


def _generator_bars(ax, result: dict) -> None:
    """One frame's stages at the default input, one bar per generator setting (its reenact.step swapped in)."""
    prefs = default_point(result)
    settings = list(dict.fromkeys(result["config"].get("generators", ["geometric"])))
    bottoms = [0.0] * len(settings)
    for stage in PIPELINE_STAGES:
        values = []
        for setting in settings:
            rows = rows_of(result, "stage", stage)
            if stage == "reenact.step":
                rows = [r for r in rows if r["variant"].get("generator") == setting]
                backend = "opencv" if setting == "geometric" else DEFAULT_GENERATOR_BACKEND
                row = pick(rows, {**prefs, "backend": backend})
            else:
                impl = result.get("defaults", {}).get("tracker") if stage == "track" else prefs["impl"]
                row = pick(rows, {**prefs, "impl": impl})
            values.append(row["timing"]["median_ms"] if row else 0.0)
        ax.bar(settings, values, bottom=bottoms, label=stage)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    budget = 1000.0 / result["inputs"]["driver_fps"]
    ax.axhline(budget, color="black", linestyle="--", linewidth=1, label=f"real time ({budget:.0f} ms)")
    ax.set_ylabel("ms per frame (median)")
    ax.set_title(f"per frame by generator, {prefs['input']}, crop {prefs['crop']}, 1 thread", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=6, loc="upper left")


def _live_latency(ax, result: dict) -> None:
    """Glass-to-glass latency per setting: box p25-p75, whiskers p5-p95, median line, p99 marker."""
    rows = [r for r in rows_of(result, "hook", "glass_to_glass") if r["metrics"].get("percentiles_ms")]
    if not rows:
        ax.text(0.5, 0.5, "live latency not measured", ha="center", va="center", transform=ax.transAxes)
        return
    stats = []
    for r in rows:
        q = {int(k): v for k, v in r["metrics"]["percentiles_ms"].items()}
        stats.append(
            {
                "label": f"{r['variant'].get('generator', '-')}\n{r['metrics']['drop_pct']:.0f}% dropped",
                "whislo": q[5],
                "q1": q[25],
                "med": q[50],
                "q3": q[75],
                "whishi": q[95],
                "fliers": [q[99]],
            }
        )
    ax.bxp(stats, showfliers=True)
    ax.set_ylabel("glass-to-glass ms (p5/p25/p50/p75/p95, p99 dot)")
    ax.set_title("live: loopback WebRTC latency", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylim(bottom=0)


def write_plots(result: dict, path: Path) -> str | None:
    """The four panels in one PNG at ``path``; returns why not when matplotlib is missing."""
    missing = matplotlib_missing()
    if missing:
        return missing
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 8), dpi=80)
    try:
        _stage_bars(axes[0][0], result)
        _streams(axes[0][1], result)
        _generator_bars(axes[1][0], result)
        _live_latency(axes[1][1], result)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return None
