"""Tracking benchmark: raw per-frame detector vs the temporal tracker.

Synthetic ground truth (see ``benchmarks.tracking_synth``) from the bundled public-domain photo
and, when ``../shared/data`` is present, from a few shared photos; plus the shared driver videos
(no ground truth: jitter on still stretches and the fraction of frames with a face).

    python -m benchmarks.tracking [--quick] [--markdown OUT]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks import tracking_synth as S
from streamer.detectors import create_detector
from streamer.native_logs import filtered_stderr
from streamer.tracking import create_tracker
from streamer.tracking_temporal import crop_scale

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ASTRONAUT = Path(__file__).resolve().parents[1] / "streamer" / "assets" / "astronaut.jpg"
SHARED_PHOTOS = (
    "raw/hallo/examples/reference_images/6.jpg",
    "raw/AniPortrait/configs/inference/ref_images/Aragaki.png",
)
METHODS = ("detector-image", "detector-video", "temporal")


def build(method: str, fps: float = S.FPS):
    """A fresh tracker for one clip."""
    if method == "detector-image":
        return create_tracker("detector", mode="image")
    if method == "detector-video":
        return create_tracker("detector", mode="video")
    return create_tracker("temporal", fps=fps)


def run_method(method: str, frames: Iterable[np.ndarray], fps: float = S.FPS) -> tuple[np.ndarray, float, float]:
    """(T, 68, 2) points (NaN without a face), detector duty cycle, ms per frame."""
    tracker = build(method, fps)
    out = []
    start = time.perf_counter()
    try:
        for frame in frames:
            lm = tracker.update(frame)
            out.append(np.full((68, 2), np.nan) if lm is None else lm.xy.astype(np.float64))
    finally:
        tracker.close()
    ms = (time.perf_counter() - start) * 1000 / max(len(out), 1)
    return np.stack(out), tracker.duty_cycle, ms


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


def synthetic(photos: list[Path], length: int) -> list[SynthRow]:
    """Every method on every synthetic clip of every photo."""
    rows = []
    det = create_detector("auto", "image")
    try:
        for photo_path in photos:
            photo = cv2.imread(str(photo_path))
            faces = det.detect(photo)
            if not faces:
                print(f"no face in {photo_path}; skipped", file=sys.stderr)
                continue
            for name in S.MOTIONS:
                seq = S.make_sequence(name, photo, faces[0], None, length, seed=len(rows))
                base = det.detect(seq.base)
                if not base:
                    continue
                seq = S.with_truth(seq, base[0].xy.astype(np.float64))
                frames = list(seq.frames())
                truth = seq.truth
                for method in METHODS:
                    est, duty, ms = run_method(method, frames)
                    tail = np.zeros(len(seq), bool)
                    tail[-30:] = True
                    jit = S.static_jitter(est, truth) if name == "static" else S.acceleration_jitter(est, truth)
                    rows.append(
                        SynthRow(
                            method,
                            f"{photo_path.stem}/{name}",
                            S.mean_error(est, truth),
                            jit,
                            S.mean_error(est, truth, tail) if name == "drift" else float("nan"),
                            S.lag_frames(est, truth) if name == "fast" else float("nan"),
                            S.tracked_fraction(est),
                            duty,
                            ms,
                        )
                    )
                    print(_synth_line(rows[-1]), flush=True)
    finally:
        det.close()
    return rows


@dataclass
class RealRow:
    method: str
    video: str
    valid: float
    jitter: float
    still_frames: int
    duty: float
    ms: float


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


def real_videos(max_videos: int, max_frames: int) -> list[RealRow]:
    """Every method on the shared driver videos."""
    manifest = SHARED / "README.md"
    paths = sorted({line.split("`")[1] for line in manifest.read_text().splitlines() if line.startswith("| `raw/")})
    videos = [SHARED / p for p in paths if p.endswith(".mp4")][:max_videos]
    rows = []
    for path in videos:
        frames, fps = read_video(path, max_frames)
        results = {m: run_method(m, frames, fps) for m in METHODS}
        ref = results["detector-image"][0]
        still = still_mask(ref)
        scale = np.array([crop_scale(p) if np.isfinite(p[0, 0]) else np.nan for p in ref])
        for m, (est, duty, ms) in results.items():
            rows.append(
                RealRow(
                    m, path.stem, S.tracked_fraction(est), real_jitter(est, still, scale), int(still.sum()), duty, ms
                )
            )
            print(_real_line(rows[-1]), flush=True)
    return rows


# --------------------------------------------------------------------------------------------------
def _synth_line(r: SynthRow) -> str:
    return (
        f"| {r.clip} | {r.method} | {r.error:.2f} | {r.jitter:.3f} | {_f(r.drift)} | {_f(r.lag)} | "
        f"{100 * r.tracked:.1f} | {r.duty:.2f} | {r.ms:.0f} |"
    )


def _real_line(r: RealRow) -> str:
    cells = (r.video, r.method, f"{100 * r.valid:.1f}", f"{r.jitter:.3f}", r.still_frames, f"{r.duty:.2f}")
    cells += (f"{r.ms:.0f}",)
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _f(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.2f}"


def summary(rows: list[SynthRow]) -> list[str]:
    """Per method: means over clips of each kind."""
    out = [
        "| method | error (all clips) | static jitter | moving jitter (acc) | drift (last 30 fr) | lag (fast) | "
        "tracked (occlusion) | duty | ms/frame |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        mine = [r for r in rows if r.method == m]

        def mean(vals: list[float]) -> float:
            vals = [v for v in vals if np.isfinite(v)]
            return float(np.mean(vals)) if vals else float("nan")

        kind = {k: [r for r in mine if r.clip.endswith("/" + k)] for k in S.MOTIONS}
        out.append(
            f"| {m} | {mean([r.error for r in mine]):.2f} | {mean([r.jitter for r in kind['static']]):.3f} | "
            f"{mean([r.jitter for r in mine if not r.clip.endswith('/static')]):.3f} | "
            f"{_f(mean([r.drift for r in kind['drift']]))} | {_f(mean([r.lag for r in kind['fast']]))} | "
            f"{100 * mean([r.tracked for r in kind['occlusion']]):.1f}% | {mean([r.duty for r in mine]):.2f} | "
            f"{mean([r.ms for r in mine]):.0f} |"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one photo, short clips, three videos")
    parser.add_argument("--markdown", type=Path, help="write the tables to this file")
    args = parser.parse_args(argv)
    photos = [ASTRONAUT]
    have_shared = SHARED.is_dir()
    if have_shared and not args.quick:
        photos += [SHARED / p for p in SHARED_PHOTOS if (SHARED / p).is_file()]
    length = 150 if args.quick else 300
    lines = [
        f"Machine: {machine()}",
        "",
        f"Synthetic clips: {length} frames at {S.FPS:.0f} fps, {S.FRAME}px, "
        f"photos: {', '.join(p.name for p in photos)}",
        "",
    ]
    with filtered_stderr():
        print("| clip | method | error | jitter | drift | lag | tracked % | duty | ms |")
        rows = synthetic(photos, length)
        real: list[RealRow] = []
        if have_shared:
            real = real_videos(3 if args.quick else 100, 120 if args.quick else 150)
        else:
            print(f"{SHARED} not found: real-video part skipped", file=sys.stderr)
    lines += ["## Summary (synthetic, means over clips)", "", *summary(rows), ""]
    lines += [
        "## Synthetic clips",
        "",
        "| clip | method | error | jitter | drift | lag | tracked % | duty | ms |",
        "|---|---|---|---|---|---|---|---|---|",
        *[_synth_line(r) for r in rows],
        "",
    ]
    if real:
        lines += [
            "## Shared driver videos",
            "",
            "| video | method | face % | still jitter | still frames | duty | ms |",
            "|---|---|---|---|---|---|---|",
            *[_real_line(r) for r in real],
            "",
        ]
        for m in METHODS:
            mine = [r for r in real if r.method == m]
            jit = [r.jitter for r in mine if np.isfinite(r.jitter)]
            lines.append(
                f"- {m}: face in {100 * np.mean([r.valid for r in mine]):.1f}% of frames, "
                f"still jitter {np.mean(jit):.3f} crop px/frame^2 (mean over videos), "
                f"duty {np.mean([r.duty for r in mine]):.2f}"
            )
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
