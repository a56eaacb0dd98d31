"""How dlib's head pose reads against the product's (MediaPipe landmarks, ``streamer.pose.head_pose``).

On real driver clips: every ``--step``-th frame is measured by both, and the slope of a least-squares
line (dlib degrees per product degree) is printed for yaw and pitch. It tells what a dlib-judged test
may expect when the product turns a face by N of its own degrees (``tests/test_edit_dlib.py``).

    python -m benchmarks.dlib_pose_gain [CLIP ...]   # default: three shared clips with head turns
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import av
import numpy as np

from benchmarks.inputs import shared_data_dir

DEFAULT_CLIPS = (
    "raw/HelloMeme/data/drive_videos/tiktok.mp4",
    "raw/EDTalk/test_data/expression_source.mp4",
    "raw/LivePortrait/assets/examples/driving/d11.mp4",
)


def pose_pairs(path: Path, step: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(product, dlib) arrays of (yaw, pitch) rows over the frames where both find a face."""
    from benchmarks.dlib_judge import DlibJudge
    from streamer.detectors import create_detector
    from streamer.pose import head_pose

    judge = DlibJudge()
    product, dlib = [], []
    with contextlib.closing(create_detector("mediapipe", "image")) as detector, av.open(str(path)) as clip:
        for i, frame in enumerate(clip.decode(video=0)):
            if i % step:
                continue
            image = frame.to_ndarray(format="bgr24")
            faces, judged = detector.detect(image), judge.judge(image)
            if faces and judged is not None:
                pose = head_pose(faces[0].points)
                product.append((pose.yaw, pose.pitch))
                dlib.append((judged.yaw, judged.pitch))
    return np.array(product), np.array(dlib)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path, help="driver clips (default: three shared ones)")
    parser.add_argument("--step", type=int, default=3, help="measure every STEP-th frame (default 3)")
    args = parser.parse_args(argv)
    clips = args.clips or [shared_data_dir() / c for c in DEFAULT_CLIPS]
    for path in clips:
        product, dlib = pose_pairs(path, args.step)
        if len(product) < 10:
            print(f"{path.name}: only {len(product)} frames with a face for both; skipped")
            continue
        for k, name in enumerate(("yaw", "pitch")):
            slope = np.polyfit(product[:, k], dlib[:, k], 1)[0]
            print(
                f"{path.name}: {name} dlib/product slope {slope:.2f} over {len(product)} frames "
                f"(product span {np.ptp(product[:, k]):.1f} deg)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
