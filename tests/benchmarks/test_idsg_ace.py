"""``benchmarks.idsg_ace``: the synthetic large-pose turn of a face's 3D landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.idsg_ace import turned
from streamer.pose import head_pose


@pytest.mark.parametrize("degrees", [50.0, -60.0])
def test_turned_face_changes_yaw_and_hides_the_far_cheek(astronaut_face, degrees):
    before = head_pose(astronaut_face.points)
    after = turned(astronaut_face, degrees)
    pose = head_pose(after.points)
    assert abs(abs(pose.yaw - before.yaw) - abs(degrees)) < 8.0  # the turn shows up as yaw
    assert abs(pose.pitch - before.pitch) < 8.0 and abs(pose.roll - before.roll) < 8.0
    # Rigid: 3D distances between points are kept.
    d0 = np.linalg.norm(astronaut_face.points[:, None] - astronaut_face.points[None], axis=2)
    d1 = np.linalg.norm(after.points[:, None] - after.points[None], axis=2)
    np.testing.assert_allclose(d1, d0, atol=1e-2)
    # One jaw end turns away from the camera and is flagged less visible than the other.
    assert abs(after.visibility[0] - after.visibility[16]) > 0.3
    assert np.isclose(turned(astronaut_face, 0.0).points, astronaut_face.points, atol=1e-3).all()
