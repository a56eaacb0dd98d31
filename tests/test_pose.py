import numpy as np
import pytest

from streamer.geometry import rotation_matrix
from streamer.pose import expression_vector, head_pose, visibility_from_landmarks


def rotated(points: np.ndarray, yaw: float, pitch: float, roll: float) -> np.ndarray:
    p = points.astype(np.float64)
    c = p.mean(axis=0)
    return (p - c) @ rotation_matrix(yaw, pitch, roll).T + c


class TestHeadPose:
    def test_frontal_photo_reads_near_zero(self, astronaut_face):
        pose = head_pose(astronaut_face.points)
        assert abs(pose.yaw) < 8 and abs(pose.pitch) < 10 and abs(pose.roll) < 8

    @pytest.mark.parametrize(
        ("yaw", "pitch", "roll"), [(20, 0, 0), (-35, 0, 0), (0, 15, 0), (0, -15, 0), (0, 0, 12), (25, -10, 5)]
    )
    def test_recovers_known_rotations(self, astronaut_face, yaw, pitch, roll):
        base = head_pose(astronaut_face.points)
        pose = head_pose(rotated(astronaut_face.points, yaw, pitch, roll))
        assert pose.yaw - base.yaw == pytest.approx(yaw, abs=1.5)
        assert pose.pitch - base.pitch == pytest.approx(pitch, abs=1.5)
        assert pose.roll - base.roll == pytest.approx(roll, abs=1.5)

    def test_yaw_sign_convention(self, astronaut_face):
        # A positive yaw turns the face toward image right: the nose tip moves right of the eye midpoint.
        p = rotated(astronaut_face.points, 30, 0, 0)
        assert p[30, 0] > p[[39, 42], 0].mean() + 5


class TestVisibility:
    def test_frontal_all_visible(self, astronaut_face):
        assert (visibility_from_landmarks(astronaut_face.points) > 0.5).all()

    def test_far_cheek_hidden_at_large_yaw(self, astronaut_face):
        vis = visibility_from_landmarks(rotated(astronaut_face.points, 60, 0, 0))
        # turning toward image right brings the image-left cheek to the front and hides the image-right jaw
        assert vis[14:17].max() < 0.5
        assert vis[0:3].min() > 0.5
        assert vis[30] > 0.5  # nose tip


class TestExpression:
    def test_mouth_opening_grows(self, astronaut_face):
        p = astronaut_face.points.astype(np.float64).copy()
        before = expression_vector(p)[0]
        p[[65, 66, 67]] += (0, 15, 0)
        assert expression_vector(p)[0] > before + 0.1

    def test_invariant_to_head_rotation(self, astronaut_face):
        e0 = expression_vector(astronaut_face.points)
        e1 = expression_vector(rotated(astronaut_face.points, 25, 10, 8))
        np.testing.assert_allclose(e0, e1, atol=0.02)
