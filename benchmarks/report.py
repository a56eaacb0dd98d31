"""Readable results: the one-screen summary, the full Markdown report and the JSON file.

Everything here works on the JSON form of a result (``runner.run_bench``'s dict), so a saved file
can be re-rendered: ``python -m benchmarks.report results.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.generator import FRAME_PARTS, RFG_PARTS
from benchmarks.hooks import QUALITY_NOT_MEASURED
from benchmarks.model_cost import PAPER_REFERENCES
from benchmarks.tables import fmt_num, render_table

#: Stages of one frame's way, in pipeline order (the summary and the stacked bars use this order).
PIPELINE_STAGES = ("decode", "track", "align", "reenact.step", "paste", "bgr2yuv", "encode")
SUMMARY_STAGES = ("decode", "detect", "track", "align", "reenact.prepare", "reenact.step", "warp", "paste", "bgr2yuv")
SUMMARY_STAGES += ("encode",)
#: Stages whose every implementation gets a summary line (the trackers differ in kind, not just speed).
SHOW_EVERY_IMPL = ("track",)
#: Stages with one summary line per generator setting.
SHOW_EVERY_GENERATOR = ("reenact.prepare", "reenact.step")
#: The networks one frame runs per generator setting (the geometric warp's network part is ``pixel_warp``).
SETTING_NETWORKS = {"geometric": ("pixel_warp",), **{k: ("pixel_warp", *v) for k, v in FRAME_PARTS.items()}}
#: The RFG runner the summary shows (what ``convert``, ``serve`` and ``camera`` use on a CPU).
DEFAULT_GENERATOR_BACKEND = "onnxruntime"


def rows_of(result: dict, section: str | None = None, name: str | None = None, ok: bool = True) -> list[dict]:
    """Rows filtered by section, name and status ``ok``."""
    return [
        r
        for r in result["rows"]
        if (section is None or r["section"] == section)
        and (name is None or r["name"] == name)
        and (not ok or r["status"] == "ok")
    ]


def default_point(result: dict) -> dict[str, Any]:
    """The variant the summary shows: 1 thread, the first crop, 720p (or the first input), opencv, pyav."""
    cfg = result["config"]
    heights = cfg["input_heights"]
    height = 720 if 720 in heights else heights[0]
    return {"threads": 1, "crop": cfg["crop_sizes"][0], "input": f"{height}p", "backend": "opencv", "impl": "pyav"}


def pick(rows: list[dict], prefs: dict[str, Any]) -> dict | None:
    """The row matching most of ``prefs`` (each preference narrows only if something is left)."""
    for key, value in prefs.items():
        narrowed = [r for r in rows if r["variant"].get(key, value) == value]
        rows = narrowed or rows
    return rows[0] if rows else None


def variant_text(variant: dict[str, Any]) -> str:
    """``crop 256, opencv, 1 thr`` style description."""
    parts = []
    for key, value in variant.items():
        if value is None:
            continue
        if key == "crop":
            parts.append(f"crop {value}")
        elif key == "threads":
            parts.append(f"{value} thr")
        elif key == "streams":
            parts.append(f"{value} stream{'s' if value != 1 else ''}")
        elif key == "warp":
            parts.append(f"{value} warp")
        else:
            parts.append(str(value))
    return ", ".join(parts)


def _timing_cells(row: dict) -> list[str]:
    t = row["timing"]
    return [fmt_num(t["median_ms"]), f"{fmt_num(t['p5_ms'])}–{fmt_num(t['p95_ms'])}", fmt_num(row["fps"])]


def summary_table(result: dict, markdown: bool = False) -> str:
    """One screen: each stage at the default point, each generator setting, the RFG's parts, convert, streams."""
    prefs = default_point(result)
    gen_prefs = {**prefs, "backend": DEFAULT_GENERATOR_BACKEND}
    lines = []
    for name in SUMMARY_STAGES:
        rows = rows_of(result, "stage", name)
        impls = [r["variant"].get("impl") for r in rows] if name in SHOW_EVERY_IMPL else [None]
        for impl in dict.fromkeys(impls):
            row = pick(rows, {**prefs, "impl": impl} if impl else prefs)
            if row:
                lines.append([name, variant_text(row["variant"]), *_timing_cells(row)])
        if name in SHOW_EVERY_GENERATOR:
            for generator in dict.fromkeys(r["variant"].get("generator") for r in rows):
                if generator in (None, "geometric"):
                    continue
                own = [r for r in rows if r["variant"].get("generator") == generator]
                row = pick(own, gen_prefs)
                if row:
                    lines.append([name, variant_text(_short(row["variant"])), *_timing_cells(row)])
    for part in RFG_PARTS:
        row = pick(rows_of(result, "model", part), gen_prefs)
        if row:
            per = row["metrics"].get("per", "frame")
            lines.append([f"{part} (per {per})", variant_text(_short(row["variant"])), *_timing_cells(row)])
    for row in rows_of(result, "stage", "warp"):
        v = row["variant"]
        if v.get("crop") == prefs["crop"] and v.get("threads") in (1, None) and v.get("backend") != "opencv":
            lines.append(["warp", variant_text(v), *_timing_cells(row)])
    for row in rows_of(result, "end_to_end", "convert"):
        lines.append(["convert (end to end)", variant_text(_short(row["variant"])), *_timing_cells(row)])
    for row in rows_of(result, "end_to_end", "startup"):  # whole runs of a fresh process: no fps
        over = row["metrics"].get("over_bare_import_s")
        setting = row["variant"]["phase"] + (f", {over:+.2f} s over bare imports" if over is not None else "")
        lines.append(["startup", setting, *_timing_cells(row)[:2], "-"])
    streams = rows_of(result, "streams")
    if streams:
        real = [r["variant"]["streams"] for r in streams if r["metrics"]["real_time"]]
        best = max(streams, key=lambda r: r["metrics"]["aggregate_fps"])
        text = f"real time up to {max(real) if real else 0} at {fmt_num(best['metrics']['target_fps'])} fps"
        lines.append(["streams", text, "-", "-", fmt_num(best["metrics"]["aggregate_fps"])])
    return render_table(["stage", "setting", "median ms", "p5–p95 ms", "fps"], lines, markdown)


def _short(variant: dict[str, Any]) -> dict[str, Any]:
    """A variant without the keys shown elsewhere (the network's name; the RFG's geometric warp, always opencv)."""
    return {k: v for k, v in variant.items() if k not in ("network", "warp")}


def _setting_row(result: dict, section: str, name: str, setting: str, prefs: dict[str, Any]) -> dict | None:
    rows = [r for r in rows_of(result, section, name) if r["variant"].get("generator", "geometric") == setting]
    return pick(rows, prefs)


def setting_gflops(result: dict, setting: str) -> float | None:
    """GFLOPs of one frame's networks for a generator setting (from this run's model rows), or None."""
    crop = result["config"]["crop_sizes"][0]
    total = 0.0
    for network in SETTING_NETWORKS.get(setting, ()):
        row = pick(rows_of(result, "model", network), {"crop": crop})
        if row is None:
            return None
        total += row["metrics"]["gflops"]
    return total


def _weights_label(result: dict) -> str | None:
    for row in result["rows"]:
        if row["variant"].get("weights"):
            return row["variant"]["weights"]
    return None


def generator_table(result: dict, markdown: bool = False) -> str:
    """Per generator setting: GFLOPs, per-frame time, convert fps, live latency, and quality when known."""
    from benchmarks.hooks import QUALITY_COLUMNS

    prefs = {**default_point(result), "backend": DEFAULT_GENERATOR_BACKEND}
    quality = {r["variant"].get("generator"): r for r in rows_of(result, "hook", "quality")}
    show_quality = bool(quality)
    settings = list(dict.fromkeys(result["config"].get("generators", ["geometric"])))
    lines = []
    for setting in settings:
        geo = {"backend": "opencv"} if setting == "geometric" else {}
        step = _setting_row(result, "stage", "reenact.step", setting, {**prefs, **geo})
        conv = _setting_row(result, "end_to_end", "convert", setting, {"threads": 1})
        live = _setting_row(result, "hook", "glass_to_glass", setting, {})
        gf = setting_gflops(result, setting)
        cells = [
            setting,
            fmt_num(gf) if gf is not None else "-",
            fmt_num(step["timing"]["median_ms"]) if step else "-",
            fmt_num(conv["fps"]) if conv else "-",
        ]
        if live:
            t, m = live["timing"], live["metrics"]
            cells += [f"{t['median_ms']:.0f}/{t['p95_ms']:.0f}/{m['p99_ms']:.0f}", f"{m['drop_pct']:.0f}%"]
        else:
            cells += ["-", "-"]
        if show_quality:
            q = quality.get(setting, {}).get("metrics", {})
            cells += [fmt_num(q.get(col)) if q.get(col) is not None else "-" for col in QUALITY_COLUMNS.values()]
        lines.append(cells)
    headers = ["generator", "GFLOPs/frame", "step ms", "convert fps", "live p50/p95/p99 ms", "live drops"]
    if show_quality:
        headers += ["PSNR face dB", "SSIM face", "pose err deg", "identity"]
    table = render_table(headers, lines, markdown)
    notes = [
        f"step: retarget + geometric render + generator, crop {prefs['crop']}, 1 thread, RFG graphs on "
        f"{DEFAULT_GENERATOR_BACKEND} (geometric: opencv warp); convert: end to end, 1 thread; "
        "live: glass-to-glass through loopback WebRTC"
    ]
    weights = _weights_label(result)
    if weights:
        notes.append(
            f"RFG rows use {weights}" + (" (same cost as trained ones)" if weights == "random weights" else "")
        )
    if show_quality:
        notes.append(f"quality: {next(iter(quality.values()))['note']}")
    else:
        notes.append(QUALITY_NOT_MEASURED)
    if markdown:
        return table + "\n\n" + "\n".join(f"- {n}" for n in notes)
    return table + "\n" + "\n".join(f"  {n}" for n in notes)


def absent_lines(result: dict) -> list[str]:
    """One line per distinct reason something was not measured (for the terminal)."""
    seen: dict[str, list[str]] = {}
    for r in result["rows"]:
        if r["status"] != "ok":
            what = r["name"] + (f"/{r['variant']['backend']}" if r["variant"].get("backend") else "")
            seen.setdefault(f"{r['status']}: {r['note']}", []).append(what)
    return [f"{', '.join(dict.fromkeys(names))}: {reason}" for reason, names in seen.items()]


def stage_table(result: dict, section: str = "stage") -> str:
    """Every measured row of a section with its spread and metrics."""
    lines = []
    for row in rows_of(result, section):
        t = row["timing"]
        metrics = ", ".join(f"{k} {fmt_num(v) if isinstance(v, float) else v}" for k, v in row["metrics"].items())
        lines.append(
            [
                row["name"],
                variant_text(row["variant"]),
                fmt_num(t["median_ms"]),
                f"{fmt_num(t['p5_ms'])}–{fmt_num(t['p95_ms'])}",
                f"{fmt_num(t['min_ms'])}–{fmt_num(t['max_ms'])}",
                t["n"],
                fmt_num(row["fps"]),
                metrics or "-",
            ]
        )
    headers = ["bench", "variant", "median ms", "p5–p95", "min–max", "n", "per s", "metrics"]
    return render_table(headers, lines, markdown=True)


def model_table(result: dict) -> str:
    """Params, GFLOPs, time and achieved share of this machine's peak per network."""
    lines = []
    for row in rows_of(result, "model"):
        v, m = row["variant"], row["metrics"]
        lines.append(
            [
                v["network"],
                m.get("per", "frame"),
                v["crop"],
                v["backend"],
                v["threads"],
                f"{m['params']:,}",
                fmt_num(m["gflops"]),
                fmt_num(m.get("grid_sample_gflops")),
                fmt_num(row["timing"]["median_ms"]),
                fmt_num(m["achieved_gflop_s"]),
                fmt_num(m["peak_gflop_s"]),
                fmt_num(m["share_of_peak_pct"]),
            ]
        )
    headers = ["network", "per", "crop", "backend", "threads", "params", "GFLOPs", "of which grid_sample"]
    headers += ["median ms", "GFLOP/s", "peak", "% peak"]
    return render_table(headers, lines, markdown=True)


def research_table(result: dict) -> str:
    """The papers' per-frame cost (their numbers, their GPU) next to ours per generator setting, measured here."""
    lines = [
        [p["method"], fmt_num(p["gflops"]), fmt_num(p["img_per_s"]), p["hardware"], "-", "-"] for p in PAPER_REFERENCES
    ]
    prefs = default_point(result)
    hw = f"{result['machine']['cpu']}, 1 thread (measured here)"
    for setting in dict.fromkeys(result["config"].get("generators", ["geometric"])):
        geo = {"backend": "opencv"} if setting == "geometric" else {"backend": DEFAULT_GENERATOR_BACKEND}
        step = _setting_row(result, "stage", "reenact.step", setting, {**prefs, **geo})
        ours = setting_gflops(result, setting)
        if not step or not ours:
            continue
        ratios = [_ratio(p["gflops"] / ours) for p in PAPER_REFERENCES]
        shown = {k: v for k, v in _short(step["variant"]).items() if k != "generator"}
        label = f"ours: {setting} (reenact.step: {variant_text(shown)})"
        lines.append([label, fmt_num(ours), fmt_num(step["fps"]), hw, *ratios])
    headers = ["method", "GFLOPs/frame", "img/s", "hardware (img/s measured on it)", "DG GFLOPs / ours"]
    headers += ["PASL GFLOPs / ours"]
    return render_table(headers, lines, markdown=True)


def _ratio(x: float) -> str:
    return f"{x:,.0f}x" if x >= 100 else f"{x:.1f}x"


def live_table(result: dict) -> str:
    """Glass-to-glass latency per generator setting (one loopback WebRTC peer)."""
    lines = []
    for row in rows_of(result, "hook", "glass_to_glass"):
        t, m = row["timing"], row["metrics"]
        lines.append(
            [
                variant_text(_short(row["variant"])),
                fmt_num(t["median_ms"]),
                fmt_num(t["p95_ms"]),
                fmt_num(m["p99_ms"]),
                fmt_num(t["max_ms"]),
                f"{m['dropped']} / {m['sent']} ({m['drop_pct']:.0f}%)",
                m["server_stale_drops"],
                f"{fmt_num(m['fps_back'])} / {fmt_num(m['fps_sent'])}",
            ]
        )
    if not lines:
        return "(not measured in this run: see the list below)"
    headers = ["setting", "p50 ms", "p95 ms", "p99 ms", "max ms", "dropped / sent", "server stale drops"]
    headers += ["fps back / sent"]
    return render_table(headers, lines, markdown=True)


def absent_table(result: dict) -> str:
    """What was not measured here, and why."""
    lines = [
        [r["name"], variant_text(r["variant"]) or "-", r["status"], r["note"]]
        for r in result["rows"]
        if r["status"] != "ok"
    ]
    return render_table(["bench", "variant", "status", "reason"], lines, markdown=True) if lines else "(none)"


def machine_lines(result: dict) -> list[str]:
    """The machine block as Markdown bullets."""
    m = result["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    load = m.get("load_average_1min") or {}
    peak_items = result.get("peak_gflop_s", {}).items()
    peaks = ", ".join(f"{'GPU' if t == 'cuda' else t + ' thr'}: {fmt_num(g)} GFLOP/s" for t, g in peak_items)
    return [
        f"- CPU: {m['cpu']}, {m['cores']} usable cores ({m['logical_cpus']} logical), {m['memory_gib']} GiB RAM",
        f"- GPU: {', '.join(m['gpus'])}; CUDA: {m['cuda']['reason'] if not m['cuda']['available'] else 'yes'}",
        f"- TensorRT: {'yes' if m['tensorrt']['available'] else 'absent: ' + m['tensorrt']['reason']}",
        f"- fp32 matmul peak (torch, {result['config']['matmul_size']}²): {peaks or 'not measured'}",
        f"- OS: {m['os']}; {libs}",
        f"- 1-minute load average at start / end: {load.get('start', '-')} / {load.get('end', '-')} "
        f"(with {m['cores']} cores, load above the bench's own threads means others were competing)",
    ]


def markdown_report(result: dict, plots: Iterable[str] = ()) -> str:
    """The whole report (what ``benchmarks/RESULTS.md`` holds)."""
    inputs = result["inputs"]
    out = [
        "# Benchmark results",
        "",
        f"Command: `{result['command']}` ({'quick' if result['config']['quick'] else 'default'} preset), "
        f"{result['created']}, {result['elapsed_s']:.0f} s.",
        "",
        "## Machine",
        "",
        *machine_lines(result),
        "",
        "## Inputs",
        "",
        f"- {inputs['origin']}: driver `{inputs['driver']}` ({inputs['driver_size']}, {inputs['driver_fps']} fps, "
        f"{inputs['frames_used']} frames used per stage), source `{inputs['source']}` ({inputs['source_size']})",
        "- 480p/720p/1080p inputs are the driver frames letterboxed into 16:9 frames of that height.",
        "- Times are per frame (per source for `reenact.prepare`): median, p5–p95 and min–max of repeated calls "
        "after warm-up; `per s` is 1000 / median.",
        "",
        "## Summary",
        "",
        summary_table(result, markdown=True),
        "",
        "## Generator settings: speed next to quality",
        "",
        generator_table(result, markdown=True),
        "",
        "## Every stage",
        "",
        stage_table(result),
        "",
        "## Model cost",
        "",
        "GFLOPs: `torch.utils.flop_counter.FlopCounterMode` (convolutions and matmuls, 2 FLOPs per "
        "multiply-accumulate), with bilinear `grid_sample`, which torch does not count, counted by hand: per "
        "output point 4 taps x C channels (1 multiply + 1 add each) + 10 for the weights = 8·C + 10 FLOPs "
        "(`benchmarks/flops.py`). Activations, normalisation, pooling and upsampling are not counted (a lower "
        "bound). Params: the parameters the graph's forward uses. The RFG graphs are timed through "
        "`RFGReenactor`'s own runners on real inputs. `% peak` is achieved GFLOP/s over this machine's fp32 "
        "matmul GFLOP/s at the same threads; above 100 means the peak was measured low (other load at that "
        "moment) or the runtime does fewer multiplies than the textbook count (e.g. Winograd convolutions).",
        "",
        model_table(result),
        "",
        "## Against the research and a plain baseline",
        "",
        "The DG and PASL rows are the papers' own numbers on an RTX 3090 GPU, not measured here; our img/s "
        "are measured on this machine's CPU: different hardware, so the img/s column does not compare across "
        "rows and no speed ratio is given. Only GFLOPs compare: the ratio columns are the papers' GFLOPs per "
        "frame over ours (ours: the geometric warp's network part plus the setting's RFG graphs).",
        "",
        research_table(result),
        "",
        "Same-run baselines (interleaved runs on the same real input; speedup = baseline median / median):",
        "",
        stage_table(result, "baseline"),
        "",
        "## End to end and concurrent streams",
        "",
        "`convert` rows: whole runs of `streamer.convert.convert` on the driver clip (model loading excluded), "
        "once per generator setting (`--generator`/`--integrator`; the RFG on onnxruntime, convert's default). "
        "Streams: N processes converting the clip at once; real time = the slowest stream at the driver's fps. "
        "Rows measured minutes apart on a shared machine can disagree: compare within a table, with the load above.",
        "",
        stage_table(result, "end_to_end"),
        "",
        stage_table(result, "streams"),
        "",
        "## Live: glass-to-glass latency",
        "",
        "One loopback WebRTC peer (`benchmarks/glass_to_glass.py`) against `reenact serve` in its own process, "
        "sending the driver clip in real time; latency = client send -> reenacted frame decoded back (both "
        "codecs, loopback RTP; no camera exposure or display scan-out). Dropped: frames sent that never came "
        "back (the server keeps the newest frame only when it is slower than the camera).",
        "",
        live_table(result),
        "",
        "## Not measured here",
        "",
        absent_table(result),
        "",
    ]
    plots = list(plots)
    if plots:
        out += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots] + [""]
    return "\n".join(out)


def write_json(result: dict, path: Path) -> None:
    """The full result as JSON."""
    path.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    # python -m benchmarks.report RESULT.json [PLOT.png ...]: the Markdown report of a saved run.
    print(markdown_report(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), sys.argv[2:]))
