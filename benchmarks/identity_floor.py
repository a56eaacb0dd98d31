"""How far dlib's identity distance moves with pose alone: each driver clip against its own neutral frame.

    python -m benchmarks.identity_floor --suite large-pose [--drivers driving.mp4,00009] [--max-seconds 10] \
        [--markdown OUT.md] [--json OUT.json]

``benchmarks.cross_dlib`` grades an output frame by dlib's descriptor distance to the source photo; a
turned head reads further from a frontal photo even when it is the same person. The floor measures
that on real faces: each driver frame's distance to the driver's own reference frame (the one
``convert``'s look-ahead picks, ``streamer.reference_lookahead``), over the same frames the cross
suite scores. A product whose identity p95 on a pair is near its floor loses little identity beyond
what the judge itself loses with the pose; a product far above it does.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.cross_dlib import SUITES, suite_pairs
from benchmarks.dlib_judge import DlibJudge, open_judge
from benchmarks.dlib_landmarks import read_frames
from benchmarks.inputs import shared_data_dir
from benchmarks.machine import describe_machine
from benchmarks.reenact_quality import machine_line
from export.atomic import atomic_write_text


def _frames_in(driver: Path, max_seconds: float) -> int:
    """How many frames ``convert --max-seconds`` reads of ``driver`` (as ``streamer.convert`` counts them)."""
    import av

    with av.open(str(driver)) as container:
        rate = float(container.streams.video[0].average_rate or 25)
    return int(max_seconds * rate) + 1


def clip_floor(judge: DlibJudge, driver: Path, max_seconds: float) -> dict[str, float]:
    """The floor of one driver clip: distances of its frames to its look-ahead reference frame."""
    from streamer.reference_lookahead import LookaheadConfig, scan_driver

    scan = LookaheadConfig()
    picked = scan_driver(driver, "auto", replace(scan, max_seconds=min(max_seconds, scan.max_seconds)))
    frames = list(read_frames(driver, _frames_in(driver, max_seconds)))
    return floor_of(judge, frames, -1 if picked is None else picked.frame_index)


def floor_of(judge, frames: list[np.ndarray], reference: int) -> dict[str, float]:
    """dlib distances of ``frames`` (but the reference itself) to frame ``reference``; NaN where none."""
    nan = float("nan")
    row = {"reference": reference, "frames": len(frames), "scored": 0, "floor_mean": nan, "floor_p95": nan}
    row |= {"floor_max": nan, "turn_p95": nan}
    ref_face = judge.judge(frames[reference]) if 0 <= reference < len(frames) else None
    if ref_face is None:
        return row
    ref = judge.identity(frames[reference], ref_face)
    dist, turns = [], []
    for k, frame in enumerate(frames):
        face = judge.judge(frame)
        if face is None or k == reference:
            continue
        dist.append(float(np.linalg.norm(judge.identity(frame, face) - ref)))
        turns.append(abs(face.yaw - ref_face.yaw))
    if dist:
        d = np.array(dist)
        row |= {"scored": len(d), "floor_mean": float(d.mean()), "floor_p95": float(np.percentile(d, 95))}
        row |= {"floor_max": float(d.max()), "turn_p95": float(np.percentile(turns, 95))}
    return row


def markdown(report: dict) -> str:
    """The report as a Markdown table."""
    lines = [
        f"Command: `{report['command']}`",
        "",
        f"Machine: {report['machine']}",
        "",
        f"Judge: {report['judge']}",
        "",
    ]
    lines += [
        "| driver | source of the cross pair | frames | reference frame | scored | floor mean | floor p95 | "
        "floor max | dlib yaw from reference, p95 (deg) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["clips"]:
        lines.append(
            f"| {Path(r['driver']).name} | {Path(r['source']).name} | {r['frames']} | {r['reference']} | {r['scored']} "
            f"| {r['floor_mean']:.3f} | {r['floor_p95']:.3f} | {r['floor_max']:.3f} "
            f"| {r['turn_p95']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.identity_floor", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=[s for s in SUITES if not s.startswith("self")], default="large-pose")
    parser.add_argument("--drivers", default="", help="comma-separated parts of driver paths to keep (default: all)")
    parser.add_argument("--data", type=Path, default=None, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="driver seconds per clip (default 10)")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    data = args.data or shared_data_dir()
    if not (data / "MANIFEST.csv").is_file():
        print(f"identity_floor: no shared data at {data} (set REENACT_SHARED_DATA)", file=sys.stderr)
        return 2
    if args.max_seconds <= 0:
        print(f"identity_floor: --max-seconds must be positive, got {args.max_seconds}", file=sys.stderr)
        return 2
    judge = open_judge("identity_floor")
    if judge is None:
        return 2
    wanted = [w for w in args.drivers.split(",") if w]
    pairs = [p for p in suite_pairs(data, args.suite) if not wanted or any(w in p.driver for w in wanted)]
    if not pairs:
        print(f"identity_floor: no {args.suite} driver matches {args.drivers!r}", file=sys.stderr)
        return 2
    clips = []
    for pair in pairs:
        row = clip_floor(judge, data / pair.driver, args.max_seconds)
        clips.append({"driver": pair.driver, "source": pair.source, **row})
        print(f"{Path(pair.driver).name}: floor p95 {row['floor_p95']:.3f}", file=sys.stderr, flush=True)
    report = {
        "suite": args.suite,
        "command": "python -m benchmarks.identity_floor " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "judge": judge.detail,
        "machine": machine_line(describe_machine()),
        "clips": clips,
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
