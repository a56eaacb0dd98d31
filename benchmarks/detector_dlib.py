"""How well the product's MediaPipe reads a driver's expression, with dlib as the outside judge.

    python -m benchmarks.detector_dlib [--suite expression] [--clips NAME,NAME] [--max-frames 251]

For each driver clip of a ``benchmarks.cross_dlib`` suite: MediaPipe's face mesh in video mode (as
``convert`` runs it), with and without its lip/eye refinement (``refine_landmarks``), mapped to 68
points; dlib's 68 points on the same frames. Both give mouth opening, eye openness and brow height
(``benchmarks.dlib_judge.expression_measures``); the table gives Pearson r between MediaPipe's and
dlib's series per clip, and the median over clips. No reenactment: this is the ceiling the driver's
landmarks set for everything downstream (issue 17). The last column, mouth scale, is how many of dlib's
mouth-opening units one unit of the refined mesh's is (the reduced-major-axis slope, std(dlib) / std
(MediaPipe) with r's sign: unlike a least-squares fit it is not shrunk by either side's noise); the
retargeter's ``MOUTH_GAP_GAIN`` is calibrated on it. ``--sheets DIR`` also draws, per clip, the frames
where the two readers' mouth openings part most, both sets of lip points on them, to see which is wrong.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import cv2
import numpy as np

from benchmarks.cross_dlib import SELF_SUITES, SUITES, suite_pairs
from benchmarks.dlib_judge import DlibJudge, expression_measures, open_judge
from benchmarks.dlib_landmarks import pearson, read_frames
from benchmarks.inputs import shared_data_dir
from benchmarks.machine import describe_machine
from benchmarks.reenact_quality import machine_line

MEASURES = ("mouth", "eyes", "brows")


def mediapipe_series(
    frames: list[np.ndarray], refine: bool, points: list[np.ndarray | None] | None = None
) -> np.ndarray:
    """(T, 3) mouth, eyes, brows of MediaPipe's 68 points per frame (NaN without a face); ``points``,
    when given, receives each frame's (68, 2) points (None without a face)."""
    from streamer.detectors.mediapipe_mesh import MediaPipeDetector

    detector = MediaPipeDetector("video", refine=refine)
    try:
        rows = []
        for frame in frames:
            faces = detector.detect(frame)
            rows.append(expression_measures(faces[0].points[:, :2]) if faces else (np.nan,) * 3)
            if points is not None:
                points.append(faces[0].points[:, :2] if faces else None)
        return np.array(rows, np.float64)
    finally:
        detector.close()


def dlib_series(
    judge: DlibJudge, frames: list[np.ndarray], points: list[np.ndarray | None] | None = None
) -> np.ndarray:
    """(T, 3) dlib's mouth, eyes, brows per frame (NaN without a face); ``points`` as for MediaPipe."""
    faces = [judge.judge(f) for f in frames]
    if points is not None:
        points.extend(f.points if f else None for f in faces)
    return np.array([(f.mouth, f.eyes, f.brows) if f else (np.nan,) * 3 for f in faces], np.float64)


def disagreement_sheet(
    frames: list[np.ndarray],
    mp_points: list[np.ndarray | None],
    dlib_points: list[np.ndarray | None],
    mp_mouth: np.ndarray,
    dlib_mouth: np.ndarray,
    count: int = 4,
) -> np.ndarray:
    """The ``count`` frames where MediaPipe's and dlib's mouth openings (each z-scored over the clip)
    disagree most, cropped round the mouth with MediaPipe's lip points green and dlib's red: to see
    which reader is wrong where the two part (real people: write it under runs/, never commit it)."""

    def z(a: np.ndarray) -> np.ndarray:
        return (a - np.nanmean(a)) / (np.nanstd(a) + 1e-9)

    zm, zd = z(mp_mouth), z(dlib_mouth)
    gap = np.nan_to_num(np.abs(zm - zd), nan=-1.0)
    tiles = []
    for i in np.argsort(-gap)[:count]:
        frame = frames[i].copy()
        for pts, colour in ((mp_points[i], (0, 255, 0)), (dlib_points[i], (0, 0, 255))):
            for q in pts[48:68] if pts is not None else ():
                cv2.circle(frame, (int(q[0]), int(q[1])), 2, colour, -1)
        anchor = next((p for p in (dlib_points[i], mp_points[i]) if p is not None), None)
        centre = anchor[48:68].mean(0) if anchor is not None else np.array(frame.shape[1::-1]) / 2
        half = int(max(40, np.ptp(anchor[:, 0]) * 0.6)) if anchor is not None else 120
        x0, y0 = int(max(centre[0] - half, 0)), int(max(centre[1] - half, 0))
        tile = cv2.resize(frame[y0 : y0 + 2 * half, x0 : x0 + 2 * half], (300, 300))
        cv2.putText(tile, f"f{i} mp {zm[i]:+.1f} dlib {zd[i]:+.1f}", (5, 20), 0, 0.55, (255, 255, 255), 2)
        tiles.append(tile)
    tiles += [np.zeros((300, 300, 3), np.uint8)] * (-len(tiles) % 2)
    return np.concatenate([np.concatenate(tiles[k : k + 2], 1) for k in range(0, len(tiles), 2)], 0)


def axis_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Reduced-major-axis slope of y on x over the frames where both are finite (NaN without spread)."""
    both = np.isfinite(x) & np.isfinite(y)
    if both.sum() < 3 or np.std(x[both]) < 1e-9:
        return float("nan")
    r = pearson(x, y)
    return float(np.sign(r) * np.std(y[both]) / np.std(x[both])) if np.isfinite(r) else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suite", default="expression", choices=[s for s in SUITES if s not in SELF_SUITES])
    p.add_argument("--data", type=Path, default=None, help="the shared data folder (default ../shared/data)")
    p.add_argument("--clips", default="", help="only clips whose path contains one of these (comma-separated)")
    p.add_argument("--max-frames", type=int, default=251, help="frames per clip (default 251: 10 s at 25 fps)")
    p.add_argument(
        "--sheets",
        type=Path,
        default=None,
        help="write, per clip, the frames where the two mouth readings disagree most (JPEG; real people: "
        "keep it under runs/, never commit it)",
    )
    args = p.parse_args(argv)
    judge = open_judge("detector_dlib")
    if judge is None:
        return 2
    data = args.data or shared_data_dir()
    if data is None or not (data / "MANIFEST.csv").is_file():
        print(f"error: no shared data with a MANIFEST.csv at {data}", file=sys.stderr)
        return 2
    pairs = suite_pairs(data, args.suite)
    if args.clips:
        pairs = [q for q in pairs if any(n in q.driver for n in args.clips.split(","))]
    print(f"Command: `python -m benchmarks.detector_dlib {shlex.join(argv if argv is not None else sys.argv[1:])}`")
    print(f"Machine: {machine_line(describe_machine())}\n")
    print("| clip | frames | " + " | ".join(f"{m} r (plain / refined)" for m in MEASURES) + " | mouth scale |")
    print("|---|---|" + "---|" * len(MEASURES) + "---|")
    rows, scales = [], []
    for pair in pairs:
        frames = list(read_frames(data / pair.driver, args.max_frames))
        dlib_points: list[np.ndarray | None] = []
        mp_points: list[np.ndarray | None] = []
        truth = dlib_series(judge, frames, dlib_points)
        series = [mediapipe_series(frames, False), mediapipe_series(frames, True, mp_points)]
        if args.sheets is not None and frames:
            args.sheets.mkdir(parents=True, exist_ok=True)
            sheet = disagreement_sheet(frames, mp_points, dlib_points, series[1][:, 0], truth[:, 0])
            cv2.imwrite(str(args.sheets / f"{Path(pair.driver).stem}_mouth.jpg"), sheet)
        r = [[pearson(mp[:, i], truth[:, i]) for i in range(3)] for mp in series]
        rows.append(r)
        scales.append(axis_slope(series[1][:, 0], truth[:, 0]))
        cells = " | ".join(f"{r[0][i]:.2f} / {r[1][i]:.2f}" for i in range(3))
        print(f"| {Path(pair.driver).name} | {len(frames)} | {cells} | {scales[-1]:.2f} |", flush=True)
    med = np.nanmedian(np.array(rows, np.float64), axis=0) if rows else np.full((2, 3), np.nan)
    scale = float(np.nanmedian(scales)) if scales else float("nan")
    print(
        f"| **median of {len(rows)} clips** | | "
        + " | ".join(f"{med[0][i]:.2f} / {med[1][i]:.2f}" for i in range(3))
        + f" | {scale:.2f} |"
    )
    return 0


if __name__ == "__main__":
    cv2.setNumThreads(1)
    raise SystemExit(main())
