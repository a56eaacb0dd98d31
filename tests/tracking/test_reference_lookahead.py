"""The file driver's look-ahead reference: the most frontal, neutral frame of the clip, chosen up front."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.pose import expression_vector, head_pose
from streamer.reference_lookahead import LookaheadConfig, ScoredFace, pick_reference, scan_driver
from tests.test_pose import rotated


def _face(base, index: int, yaw: float = 0.0, mouth: float = 0.0, blink: float = 0.0) -> ScoredFace:
    p = base.points.astype(np.float64).copy()
    iod = np.linalg.norm(p[45] - p[36])
    p[[65, 66, 67, 56, 57, 58]] += (0.0, mouth * iod, 0.0)
    p[[37, 38, 43, 44]] += blink * (p[[41, 40, 47, 46]] - p[[37, 38, 43, 44]])
    lm = base.with_points(rotated(p, yaw, 0.0, 0.0))
    return ScoredFace(index, lm, head_pose(lm.points), expression_vector(lm.points))


class TestPickReference:
    def test_prefers_the_frontal_closed_mouth_open_eyed_frame(self, astronaut_face):
        faces = [_face(astronaut_face, i, yaw=50 - 2 * i) for i in range(12)]  # starts in profile
        faces += [_face(astronaut_face, 12, yaw=0, mouth=0.4)]  # frontal but talking
        faces += [_face(astronaut_face, 13, yaw=0, blink=1.0)]  # frontal, eyes closed
        faces += [_face(astronaut_face, 14, yaw=3)]  # near-frontal and neutral
        faces += [_face(astronaut_face, 15 + i, yaw=20 + i) for i in range(5)]
        best, _ = pick_reference(faces)
        assert best.frame_index == 14

    def test_empty_is_none(self):
        assert pick_reference([]) is None


def _starts_in_profile(t: float) -> tuple[float, float, float, float, float]:
    """Yaw 30 deg for the first second, then a turn to frontal by 2 s, then small motion."""
    yaw = 30.0 if t < 1.0 else max(0.0, 30.0 * (2.0 - t)) + 2.0 * np.sin(3 * t)
    mouth = 0.2 * max(0.0, np.sin(2 * np.pi * t / 0.9)) if t > 2.6 else 0.0
    return yaw, 0.0, 0.0, mouth, 0.0


@pytest.fixture(scope="module")
def profile_start_clip(tmp_path_factory):
    from streamer.examples import make_example_driver

    return make_example_driver(
        tmp_path_factory.mktemp("lookahead") / "profile_start.mp4", 4.0, 10, 256, motion=_starts_in_profile
    )


class TestScanDriver:
    def test_a_clip_that_starts_in_profile_gets_a_frontal_reference(self, profile_start_clip):
        ref = scan_driver(profile_start_clip, "mediapipe")
        assert ref is not None and ref.scanned == 40 and ref.with_face == 40
        assert ref.frame_index >= 18  # after the turn to frontal (2 s at 10 fps), not the profile start
        first = scan_driver(profile_start_clip, "mediapipe", LookaheadConfig(max_seconds=0.5))
        assert first is not None and first.frame_index < 5
        assert abs(ref.pose.yaw) < abs(first.pose.yaw) - 10

    def test_detections_are_spread_and_bounded(self, profile_start_clip):
        ref = scan_driver(profile_start_clip, "mediapipe", LookaheadConfig(max_detections=8))
        assert ref is not None and ref.scanned == 8 and ref.frame_index % 5 == 0


@pytest.mark.shared_data
def test_shared_large_clip_that_starts_near_profile(shared_data):
    """LRS3 clip that turns from near-profile (yaw about -55) to frontal while talking."""
    clip = shared_data / "raw/spectre/samples/LRS3/0Fi83BHQsMA_00002.mp4"
    if not clip.is_file():
        pytest.skip(f"needs {clip}")
    ref = scan_driver(clip, "mediapipe")
    assert ref is not None
    start = scan_driver(clip, "mediapipe", LookaheadConfig(max_seconds=0.2))
    assert start is not None
    assert abs(ref.pose.yaw) < 20 and abs(start.pose.yaw) > abs(ref.pose.yaw) + 15
