"""The default detector follows eyelids and lips: a blink of the example driver reads as closed eyes (#17)."""

import numpy as np
import pytest

from streamer.detectors.mediapipe_mesh import REFINE_LANDMARKS, MediaPipeDetector
from streamer.examples import scripted_motion


def _eye_openness(points: np.ndarray) -> float:
    """Mean eyelid gap over eye width (dlib's judge measures the same on its own points)."""
    p = points[:, :2]
    gap = [np.linalg.norm(p[a] - p[b]) for a, b in ((37, 41), (38, 40), (43, 47), (44, 46))]
    width = (np.linalg.norm(p[39] - p[36]) + np.linalg.norm(p[45] - p[42])) / 2
    return float(np.mean(gap) / width)


def _openness(example_driver, refine: bool) -> np.ndarray:
    from benchmarks.dlib_landmarks import read_frames

    detector = MediaPipeDetector("video", refine=refine)
    try:
        return np.array([_eye_openness(detector.detect(f)[0].points) for f in read_frames(example_driver)])
    finally:
        detector.close()


@pytest.fixture(scope="module")
def openness(example_driver) -> dict[bool, np.ndarray]:
    return {refine: _openness(example_driver, refine) for refine in (False, True)}


def test_default_detector_refines_eyes_and_lips():
    assert REFINE_LANDMARKS


def test_a_full_blink_reads_as_nearly_closed_eyes(openness):
    blink = np.array([scripted_motion(i / 25)[4] for i in range(len(openness[True]))])
    closed, open_ = blink > 0.9, blink < 0.05
    assert closed.any() and open_.any()
    for refine, eyes in openness.items():
        ratio = eyes[closed].mean() / np.median(eyes[open_])
        # refined: the eyes close to about a third of their open height; unrefined, to about 80%
        assert (ratio < 0.5) if refine else (ratio > 0.6), (refine, ratio)
    assert np.corrcoef(openness[True], blink)[0, 1] < -0.85
