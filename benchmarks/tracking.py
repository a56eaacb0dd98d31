"""Tracking benchmark: raw per-frame detector vs the temporal tracker.

Synthetic ground truth (see ``benchmarks.tracking_synth``) from the bundled public-domain photo
and, when ``../shared/data`` is present, from a few shared photos; plus the shared driver videos
(no ground truth: jitter on still stretches, the fraction of frames with a face, and how the mouth
opening follows the per-frame detector's) and a synthetic fast-mouth clip.

    python -m benchmarks.tracking [--quick] [--markdown OUT]

Or a clip at a time (each run saves its rows; ``--merge`` writes the tables from the saved rows):

    python -m benchmarks.tracking --only astronaut/static --json /tmp/t/astronaut_static.json
    python -m benchmarks.tracking --only d9 --methods temporal --json /tmp/t/d9.json
    python -m benchmarks.tracking --merge /tmp/t/*.json --markdown OUT.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks import tracking_synth as S
from streamer.detectors import create_detector
from streamer.native_logs import filtered_stderr
from streamer.retarget import mouth_gap
from streamer.tracking import create_tracker
from streamer.tracking_temporal import crop_scale

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ASTRONAUT = Path(__file__).resolve().parents[1] / "streamer" / "assets" / "astronaut.jpg"
SHARED_PHOTOS = (
    "raw/hallo/examples/reference_images/6.jpg",
    "raw/AniPortrait/configs/inference/ref_images/Aragaki.png",
)
METHODS = ("detector-image", "detector-video", "temporal")
#: The synthetic fast-mouth clip (``tracking_synth.expression_frames``): frames and its frame rate.
MOUTH_CLIP = "astronaut/mouth"
MOUTH_FRAMES, MOUTH_FPS = 45, 25.0


def build(method: str, fps: float = S.FPS):
    """A fresh tracker for one clip."""
    if method == "detector-image":
        return create_tracker("detector", mode="image")
    if method == "detector-video":
        return create_tracker("detector", mode="video")
    return create_tracker("temporal", fps=fps)


@dataclass
class Run:
    """One method on one clip."""

    points: np.ndarray  # (T, 68, 2), NaN without a face
    mouth: np.ndarray  # (T,) ``streamer.retarget.mouth_gap`` per frame, NaN without a face
    duty: float
    ms: float


def run_method(method: str, frames: Iterable[np.ndarray], fps: float = S.FPS) -> Run:
    """Track ``frames`` with a fresh tracker of this method."""
    tracker = build(method, fps)
    out, gaps = [], []
    start = time.perf_counter()
    try:
        for frame in frames:
            lm = tracker.update(frame)
            out.append(np.full((68, 2), np.nan) if lm is None else lm.xy.astype(np.float64))
            gaps.append(np.nan if lm is None else mouth_gap(lm.points))
    finally:
        tracker.close()
    ms = (time.perf_counter() - start) * 1000 / max(len(out), 1)
    return Run(np.stack(out), np.array(gaps), tracker.duty_cycle, ms)


def mouth_following(reference: np.ndarray, series: np.ndarray) -> tuple[float, int]:
    """(Pearson r at lag 0, best lag in -3..3) of a mouth-gap series against the reference's, over the
    frames where both have a face; NaN when either is constant there."""
    ok = np.isfinite(reference) & np.isfinite(series)
    a, b = reference[ok], series[ok]
    if len(a) < 10 or a.std() == 0 or b.std() == 0:
        return float("nan"), 0
    lag, _, r0 = S.lagged_correlation(a, b)
    return r0, lag


@dataclass
class SynthRow:
    method: str
    clip: str
    error: float
    jitter: float
    drift: float
    lag: float
    tracked: float
    duty: float
    ms: float
    jump: float = float("nan")  #: occlusion clips: largest step beyond the true motion after an occluder lifts


def wanted(name: str, only: list[str] | None) -> bool:
    """Whether clip ``name`` is selected by ``--only`` (exact names; none given: all)."""
    return not only or name in only


def synthetic(photos: list[Path], length: int, methods: tuple[str, ...], only: list[str] | None) -> list[SynthRow]:
    """Every method on every (selected) synthetic clip of every photo."""
    rows = []
    det = create_detector("auto", "image")
    try:
        for photo_i, photo_path in enumerate(photos):
            names = [n for n in S.MOTIONS if wanted(f"{photo_path.stem}/{n}", only)]
            if not names:
                continue
            photo = cv2.imread(str(photo_path))
            faces = det.detect(photo)
            if not faces:
                print(f"no face in {photo_path}; skipped", file=sys.stderr)
                continue
            for name in names:
                # The seed depends only on the clip (it used to be the row count: same values for a full run).
                seed = len(METHODS) * (photo_i * len(S.MOTIONS) + list(S.MOTIONS).index(name))
                seq = S.make_sequence(name, photo, faces[0], None, length, seed=seed)
                base = det.detect(seq.base)
                if not base:
                    continue
                seq = S.with_truth(seq, base[0].xy.astype(np.float64))
                frames = list(seq.frames())
                truth = seq.truth
                for method in methods:
                    run = run_method(method, frames)
                    est = run.points
                    tail = np.zeros(len(seq), bool)
                    tail[-30:] = True
                    jit = S.static_jitter(est, truth) if name == "static" else S.acceleration_jitter(est, truth)
                    jump = S.reacquisition_jump(est, truth, S.occlusion_ends(seq)) if name == "occlusion" else np.nan
                    rows.append(
                        SynthRow(
                            method,
                            f"{photo_path.stem}/{name}",
                            S.mean_error(est, truth),
                            jit,
                            S.mean_error(est, truth, tail) if name == "drift" else float("nan"),
                            S.lag_frames(est, truth) if name == "fast" else float("nan"),
                            S.tracked_fraction(est),
                            run.duty,
                            run.ms,
                            float(jump),
                        )
                    )
                    print(_synth_line(rows[-1]), flush=True)
    finally:
        det.close()
    return rows


@dataclass
class MouthRow:
    method: str
    clip: str
    r: float  #: Pearson r of the mouth gap with the scripted opening, lag 0
    lag: int  #: best-aligning lag (frames; positive: late)
    r_video: float = float("nan")  #: Pearson r with detector-video's mouth gap, lag 0 (the tests' reference)
    lag_video: int = 0


def mouth_clip(methods: tuple[str, ...]) -> list[MouthRow]:
    """The bundled photo with a mouth that opens and closes within 6 frames, four times: the mouth gap of
    each method against the scripted profile."""
    from streamer.examples import example_source_path
    from streamer.media.images import load_image

    profile = S.mouth_profile(MOUTH_FRAMES)
    frames = S.expression_frames(load_image(example_source_path()), profile)
    runs = {m: run_method(m, frames, MOUTH_FPS) for m in dict.fromkeys(("detector-video", *methods))}
    rows = []
    for method in methods:
        r, lag = mouth_following(profile, runs[method].mouth)
        rv, lagv = mouth_following(runs["detector-video"].mouth, runs[method].mouth)
        rows.append(MouthRow(method, MOUTH_CLIP, r, lag, rv, lagv))
        print(_mouth_line(rows[-1]), flush=True)
    return rows


def _mouth_line(r: MouthRow) -> str:
    return f"| {r.clip} | {r.method} | {_f(r.r, 3)} | {r.lag} | {_f(r.r_video, 3)} | {r.lag_video} |"


@dataclass
class RealRow:
    method: str
    video: str
    valid: float
    jitter: float
    still_frames: int
    duty: float
    ms: float
    mouth_r: float = float("nan")  #: Pearson r of the mouth gap with detector-video's (lag 0)
    mouth_lag: int = 0
    mouth_std: float = float("nan")  #: std of detector-video's mouth gap (interocular units): how much the mouth moves


def read_video(path: Path, max_frames: int) -> tuple[list[np.ndarray], float]:
    """Up to ``max_frames`` BGR frames and the frame rate."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or S.FPS
    frames = []
    while len(frames) < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, float(fps)


def still_mask(reference: np.ndarray, window: int = 9, max_speed: float = 0.6) -> np.ndarray:
    """Frames where a centred moving average of the reference face centre moves < ``max_speed`` crop px/frame.

    Offline and non-causal on purpose: it only picks where to measure, the same frames for every method.
    """
    ok = np.isfinite(reference[:, 0, 0])
    centre = np.where(ok[:, None], np.nan_to_num(reference).mean(axis=1), np.nan)
    kernel = np.ones(window) / window
    smooth = np.stack([np.convolve(np.nan_to_num(centre[:, i]), kernel, mode="same") for i in range(2)], axis=1)
    speed = np.linalg.norm(np.gradient(smooth, axis=0), axis=1)
    scale = np.array([crop_scale(p) if o else np.nan for p, o in zip(reference, ok, strict=True)])
    valid = np.convolve(ok.astype(float), kernel, mode="same") > 0.999
    return valid & (speed * scale < max_speed)


def real_jitter(est: np.ndarray, still: np.ndarray, scale: np.ndarray) -> float:
    """RMS second difference of the points (crop px / frame^2) at still frames with both neighbours present."""
    acc = est[2:] - 2 * est[1:-1] + est[:-2]
    sel = still[1:-1] & np.isfinite(acc[:, 0, 0]) & np.isfinite(scale[1:-1])
    if not sel.any():
        return float("nan")
    a = acc[sel] * scale[1:-1][sel, None, None]
    return float(np.sqrt((a**2).sum(axis=2).mean()))


def shared_videos() -> list[Path]:
    """The shared driver videos, in the manifest's path order."""
    manifest = SHARED / "README.md"
    paths = sorted({line.split("`")[1] for line in manifest.read_text().splitlines() if line.startswith("| `raw/")})
    return [SHARED / p for p in paths if p.endswith(".mp4")]


def real_videos(max_videos: int, max_frames: int, methods: tuple[str, ...], only: list[str] | None) -> list[RealRow]:
    """Every method on the (selected) shared driver videos. The still frames are chosen from
    detector-image's points and the mouth reference is detector-video's, so both always run."""
    rows = []
    for path in shared_videos()[:max_videos]:
        if not wanted(path.stem, only):
            continue
        frames, fps = read_video(path, max_frames)
        results = {m: run_method(m, frames, fps) for m in dict.fromkeys(("detector-image", "detector-video", *methods))}
        ref = results["detector-image"].points
        still = still_mask(ref)
        scale = np.array([crop_scale(p) if np.isfinite(p[0, 0]) else np.nan for p in ref])
        mouth_ref = results["detector-video"].mouth
        for m in methods:
            run = results[m]
            r, lag = mouth_following(mouth_ref, run.mouth) if m != "detector-video" else (float("nan"), 0)
            rows.append(
                RealRow(
                    m,
                    path.stem,
                    S.tracked_fraction(run.points),
                    real_jitter(run.points, still, scale),
                    int(still.sum()),
                    run.duty,
                    run.ms,
                    r,
                    lag,
                    float(np.nanstd(mouth_ref)),
                )
            )
            print(_real_line(rows[-1]), flush=True)
    return rows


# --------------------------------------------------------------------------------------------------
def _synth_line(r: SynthRow) -> str:
    return (
        f"| {r.clip} | {r.method} | {r.error:.2f} | {r.jitter:.3f} | {_f(r.drift)} | {_f(r.lag)} | "
        f"{100 * r.tracked:.1f} | {_f(r.jump)} | {r.duty:.2f} | {r.ms:.0f} |"
    )


def _real_line(r: RealRow) -> str:
    cells = (r.video, r.method, f"{100 * r.valid:.1f}", f"{r.jitter:.3f}", r.still_frames, f"{r.duty:.2f}")
    mouth = "-" if not np.isfinite(r.mouth_r) else f"{r.mouth_r:.2f} / {r.mouth_lag}"
    cells += (f"{r.ms:.0f}", mouth, _f(r.mouth_std, 3))
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _f(x: float, digits: int = 2) -> str:
    return "-" if not np.isfinite(x) else f"{x:.{digits}f}"


def summary(rows: list[SynthRow]) -> list[str]:
    """Per method: means over clips of each kind."""
    out = [
        "| method | error (all clips) | static jitter | moving jitter (acc) | drift (last 30 fr) | lag (fast) | "
        "tracked (occlusion) | re-acq. jump | duty | ms/frame |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        mine = [r for r in rows if r.method == m]
        if not mine:
            continue

        def mean(vals: list[float]) -> float:
            vals = [v for v in vals if np.isfinite(v)]
            return float(np.mean(vals)) if vals else float("nan")

        kind = {k: [r for r in mine if r.clip.endswith("/" + k)] for k in S.MOTIONS}
        out.append(
            f"| {m} | {_f(mean([r.error for r in mine]))} | {_f(mean([r.jitter for r in kind['static']]), 3)} | "
            f"{_f(mean([r.jitter for r in mine if not r.clip.endswith('/static')]), 3)} | "
            f"{_f(mean([r.drift for r in kind['drift']]))} | {_f(mean([r.lag for r in kind['fast']]))} | "
            f"{100 * mean([r.tracked for r in kind['occlusion']]):.1f}% | "
            f"{_f(mean([r.jump for r in kind['occlusion']]))} | "
            f"{mean([r.duty for r in mine]):.2f} | {mean([r.ms for r in mine]):.0f} |"
        )
    return out


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def save(path: Path, header: dict, synth: list[SynthRow], mouth: list[MouthRow], real: list[RealRow]) -> None:
    """Rows as JSON (NaN as null), for ``--merge``."""

    def clean(row) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(row).items()}

    data = {
        **header,
        "synthetic": [clean(r) for r in synth],
        "mouth": [clean(r) for r in mouth],
        "real": [clean(r) for r in real],
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


def load(paths: list[Path]) -> tuple[dict, list[SynthRow], list[MouthRow], list[RealRow]]:
    """Rows of several ``--json`` files, in file order."""

    def row(cls, d: dict):
        return cls(**{k: (float("nan") if v is None else v) for k, v in d.items()})

    header: dict = {}
    synth, mouth, real = [], [], []
    for path in paths:
        data = json.loads(path.read_text())
        header = header or {k: v for k, v in data.items() if k not in ("synthetic", "mouth", "real")}
        synth += [row(SynthRow, d) for d in data["synthetic"]]
        mouth += [row(MouthRow, d) for d in data["mouth"]]
        real += [row(RealRow, d) for d in data["real"]]
    return header, synth, mouth, real


def report(header: dict, rows: list[SynthRow], mouth: list[MouthRow], real: list[RealRow]) -> str:
    """The markdown tables."""
    lines = [
        f"Machine: {header['machine']}",
        "",
        f"Synthetic clips: {header['length']} frames at {S.FPS:.0f} fps, {S.FRAME}px, photos: {header['photos']}",
        "",
    ]
    if rows:
        lines += ["## Summary (synthetic, means over clips)", "", *summary(rows), ""]
        lines += [
            "## Synthetic clips",
            "",
            "| clip | method | error | jitter | drift | lag | tracked % | re-acq. jump | duty | ms |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *[_synth_line(r) for r in rows],
            "",
        ]
    if mouth:
        lines += [
            f"## Mouth following ({MOUTH_CLIP}: {MOUTH_FRAMES} frames at {MOUTH_FPS:.0f} fps, vs the scripted opening)",
            "",
            "| clip | method | r (lag 0) | best lag | r vs detector-video | its best lag |",
            "|---|---|---|---|---|---|",
            *[_mouth_line(r) for r in mouth],
            "",
        ]
    if real:
        lines += [
            "## Shared driver videos",
            "",
            "| video | method | face % | still jitter | still frames | duty | ms | mouth r / lag vs detector-video "
            "| mouth std |",
            "|---|---|---|---|---|---|---|---|---|",
            *[_real_line(r) for r in real],
            "",
        ]
        for m in METHODS:
            mine = [r for r in real if r.method == m]
            if not mine:
                continue
            jit = [r.jitter for r in mine if np.isfinite(r.jitter)]
            moving = [r.mouth_r for r in mine if np.isfinite(r.mouth_r) and r.mouth_std >= MOVING_MOUTH]
            lines.append(
                f"- {m}: face in {100 * np.mean([r.valid for r in mine]):.1f}% of frames, "
                f"still jitter {np.mean(jit):.3f} crop px/frame^2 (mean over videos), "
                f"duty {np.mean([r.duty for r in mine]):.2f}"
                + (
                    f", mouth r {np.mean(moving):.2f} (mean over the {len(moving)} videos whose mouth gap std "
                    f">= {MOVING_MOUTH})"
                    if moving
                    else ""
                )
            )
    return "\n".join(lines)


#: Videos whose reference mouth gap varies at least this much (std, interocular units) count as talking.
MOVING_MOUTH = 0.03


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one photo, short clips, three videos")
    parser.add_argument(
        "--only", nargs="+", help=f"only these clips: photo/kind (e.g. Aragaki/fast), video stems, {MOUTH_CLIP}"
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--json", type=Path, help="also save the rows here (for --merge)")
    parser.add_argument("--merge", nargs="+", type=Path, help="write the tables from these --json files; run nothing")
    parser.add_argument("--markdown", type=Path, help="write the tables to this file")
    args = parser.parse_args(argv)
    if args.merge:
        text = report(*load(args.merge))
        print(text)
        if args.markdown:
            args.markdown.write_text(text + "\n")
        return 0
    methods = tuple(args.methods)
    photos = [ASTRONAUT]
    have_shared = SHARED.is_dir()
    if have_shared and not args.quick:
        photos += [SHARED / p for p in SHARED_PHOTOS if (SHARED / p).is_file()]
    length = 150 if args.quick else 300
    header = {"machine": machine(), "length": length, "photos": ", ".join(p.name for p in photos)}
    with filtered_stderr():
        print("| clip | method | error | jitter | drift | lag | tracked % | re-acq. jump | duty | ms |")
        rows = synthetic(photos, length, methods, args.only)
        mouth = mouth_clip(methods) if wanted(MOUTH_CLIP, args.only) else []
        real: list[RealRow] = []
        if have_shared:
            real = real_videos(3 if args.quick else 100, 120 if args.quick else 150, methods, args.only)
        else:
            print(f"{SHARED} not found: real-video part skipped", file=sys.stderr)
    if args.json:
        save(args.json, header, rows, mouth, real)
    text = report(header, rows, mouth, real)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
