"""Plots with matplotlib (a mediapipe dependency; imported lazily): per-stage stacked bars, fps vs streams."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import PIPELINE_STAGES, default_point, pick, rows_of


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


def write_plots(result: dict, path: Path) -> str | None:
    """Both panels in one small PNG at ``path``; returns why not when matplotlib is missing."""
    missing = matplotlib_missing()
    if missing:
        return missing
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=80)
    try:
        _stage_bars(axes[0], result)
        _streams(axes[1], result)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return None
