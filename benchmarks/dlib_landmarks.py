"""dlib's 68 points on video frames, as an outside judge of head turn and mouth (``pip install '.[quality]'``).

The product tracks faces with MediaPipe; judging its output with the same detector would share its
blind spots, so the mode guard (``tests/test_mode_guard.py``) and the IDSG measurements use dlib's
HOG face detector and 68-point shape predictor (``shape_predictor_68_face_landmarks.dat``, shipped in
``face-recognition-models``; no download at run time). dlib's points follow the iBUG 68 layout, the
layout of ``streamer.landmarks``, so the image-plane measures of ``streamer.retarget_idsg`` apply:
``yaw_offset`` (nose tip against the jaw ends, grows as the face turns to image right) and
``mouth_opening`` (inner lips / interocular distance).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.dlib_judge import DlibJudge
from streamer.retarget_idsg import mouth_opening, yaw_offset


@dataclass(frozen=True)
class FaceTrack:
    """Per-frame dlib measures of a clip; NaN where dlib found no face."""

    yaw: np.ndarray  #: ``yaw_offset`` per frame
    mouth: np.ndarray  #: ``mouth_opening`` per frame

    @property
    def found(self) -> float:
        """Share of frames with a face."""
        return float(np.isfinite(self.yaw).mean()) if len(self.yaw) else 0.0


def measure_frames(judge: DlibJudge, frames) -> FaceTrack:
    """dlib's yaw and mouth measures on each BGR frame of an iterable."""
    yaw, mouth = [], []
    for frame in frames:
        pts = judge.points(frame)
        yaw.append(np.nan if pts is None else yaw_offset(pts))
        mouth.append(np.nan if pts is None else mouth_opening(pts))
    return FaceTrack(np.asarray(yaw), np.asarray(mouth))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over the frames where both are finite (NaN with fewer than 3 such frames or no spread)."""
    both = np.isfinite(a) & np.isfinite(b)
    # 1e-9, not 0: the float std of a constant series can come out as ~1e-17.
    if both.sum() < 3 or np.std(a[both]) < 1e-9 or np.std(b[both]) < 1e-9:
        return float("nan")
    return float(np.corrcoef(a[both], b[both])[0, 1])


def read_frames(path: str | Path, max_frames: int | None = None):
    """BGR frames of a video file (PyAV), at most ``max_frames``."""
    import av

    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if max_frames is not None and i >= max_frames:
                break
            yield frame.to_ndarray(format="bgr24")


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.dlib_landmarks --driver CLIP OUT.mp4 [...]``: each output against the driver."""
    import argparse

    p = argparse.ArgumentParser(description="dlib yaw/mouth correlation of reenacted videos with their driver")
    p.add_argument("--driver", type=Path, required=True)
    p.add_argument("outputs", type=Path, nargs="+")
    args = p.parse_args(argv)
    judge = DlibJudge(max_side=10_000, upsample=0)
    tracks = {out: measure_frames(judge, read_frames(out)) for out in args.outputs}
    n = max(len(t.yaw) for t in tracks.values())
    driver = measure_frames(judge, read_frames(args.driver, n))
    for out, t in tracks.items():
        m = min(len(t.yaw), len(driver.yaw))
        print(
            f"{out.name}: {m} frames, face found in {t.found:.0%}, yaw r {pearson(driver.yaw[:m], t.yaw[:m]):.2f}, "
            f"mouth r {pearson(driver.mouth[:m], t.mouth[:m]):.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
