"""The soft limit on the source's out-of-plane turn (streamer.turn_limit) and its use in retargeting."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from streamer.geometry import rotation_matrix
from streamer.pose import head_pose
from streamer.retarget import AnalyticRetargeter
from streamer.turn_limit import (
    TurnLimit,
    limit_turn,
    roll_angle,
    soft_clip,
    soft_saturate,
    swing_twist,
    turn_angle,
    unlimit_turn,
)
from tests.test_pose import rotated

LIMIT = TurnLimit(knee_deg=25.0, limit_deg=45.0)


def _turned(face, yaw: float):
    """``face`` turned by ``yaw`` degrees about its landmarks' centre."""
    return face.with_points(rotated(face.points, yaw, 0, 0))


class TestSoftSaturate:
    def test_identity_up_to_the_knee(self):
        a = np.linspace(-25, 25, 101)
        np.testing.assert_allclose(soft_saturate(a, LIMIT), a)

    def test_monotone_bounded_and_odd(self):
        a = np.linspace(0, 180, 1801)
        s = soft_saturate(a, LIMIT)
        assert (np.diff(s) > 0).all()
        assert s.max() < LIMIT.limit_deg
        np.testing.assert_allclose(soft_saturate(-a, LIMIT), -s)

    def test_smooth_at_the_knee(self):
        h = 1e-4
        k = LIMIT.knee_deg
        left = (soft_saturate(k, LIMIT) - soft_saturate(k - h, LIMIT)) / h
        right = (soft_saturate(k + h, LIMIT) - soft_saturate(k, LIMIT)) / h
        assert left == pytest.approx(1.0, abs=1e-3) and right == pytest.approx(1.0, abs=1e-3)

    def test_bad_limits_are_refused(self):
        with pytest.raises(ValueError):
            TurnLimit(knee_deg=50.0, limit_deg=40.0)


class TestSwingTwist:
    @pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 30), (40, 0, 0), (35, -20, 15), (-70, 10, -40)])
    def test_recomposes(self, yaw, pitch, roll):
        r = rotation_matrix(yaw, pitch, roll)
        swing, twist = swing_twist(r)
        np.testing.assert_allclose((swing * twist).as_matrix(), r, atol=1e-9)
        # the twist turns about the view axis only, the swing about an axis in the image plane
        np.testing.assert_allclose(np.abs(twist.as_rotvec()[:2]), 0, atol=1e-9)
        assert abs(swing.as_rotvec()[2]) < 1e-9

    def test_roll_is_not_a_turn(self):
        assert turn_angle(rotation_matrix(0, 0, 50)) == pytest.approx(0, abs=1e-6)
        assert turn_angle(rotation_matrix(40, 0, 0)) == pytest.approx(40, abs=1e-6)


class TestLimitTurn:
    def test_small_turns_and_pure_roll_pass_unchanged(self):
        for r in (rotation_matrix(20, 5, 0), rotation_matrix(0, 0, 60), rotation_matrix(-15, 10, 30)):
            np.testing.assert_allclose(limit_turn(r, LIMIT), r, atol=1e-9)

    def test_large_turn_is_compressed_keeping_direction_and_roll(self):
        r = rotation_matrix(60, 0, 20)
        limited = limit_turn(r, LIMIT)
        assert turn_angle(limited) == pytest.approx(float(soft_saturate(turn_angle(r), LIMIT)), abs=1e-6)
        axis = lambda m: swing_twist(m)[0].as_rotvec() / np.linalg.norm(swing_twist(m)[0].as_rotvec())  # noqa: E731
        np.testing.assert_allclose(axis(limited), axis(r), atol=1e-9)
        np.testing.assert_allclose(swing_twist(limited)[1].as_matrix(), swing_twist(r)[1].as_matrix(), atol=1e-9)
        assert np.allclose(limited @ limited.T, np.eye(3), atol=1e-9)

    def test_none_is_off(self):
        r = Rotation.from_euler("y", 80, degrees=True).as_matrix()
        assert limit_turn(r, None) is r


ROLL_LIMIT = TurnLimit(knee_deg=25.0, limit_deg=45.0, roll_knee_deg=20.0, roll_limit_deg=35.0)


class TestRollLimit:
    def test_small_roll_passes_large_roll_is_compressed_with_its_sign(self):
        small = rotation_matrix(10, 0, 15)
        assert limit_turn(small, ROLL_LIMIT) is small
        for roll in (60.0, -60.0, 90.0):
            limited = limit_turn(rotation_matrix(0, 0, roll), ROLL_LIMIT)
            assert roll_angle(limited) == pytest.approx(float(soft_clip(roll, 20.0, 35.0)), abs=1e-6)
            assert abs(roll_angle(limited)) < 35.0 and np.sign(roll_angle(limited)) == np.sign(roll)
            assert turn_angle(limited) == pytest.approx(0.0, abs=1e-6)

    def test_roll_limit_keeps_the_swing_and_monotone(self):
        r = rotation_matrix(30, 10, 50)
        limited = limit_turn(r, ROLL_LIMIT)
        np.testing.assert_allclose(
            swing_twist(limited)[0].as_rotvec(), swing_twist(limit_turn(r, LIMIT))[0].as_rotvec(), atol=1e-9
        )
        rolls = [roll_angle(limit_turn(rotation_matrix(0, 0, a), ROLL_LIMIT)) for a in np.linspace(0, 170, 69)]
        assert (np.diff(rolls) > 0).all()

    def test_unlimit_undoes_the_roll_limit(self):
        for yaw, pitch, roll in ((30, 0, 40), (10, 28, -50), (50, -20, 3), (0, 0, -25)):
            rot = rotation_matrix(yaw, pitch, roll)
            back = unlimit_turn(limit_turn(rot, ROLL_LIMIT), ROLL_LIMIT)
            np.testing.assert_allclose(back, rot, atol=1e-6)

    def test_half_a_roll_limit_is_refused(self):
        with pytest.raises(ValueError):
            TurnLimit(roll_knee_deg=20.0)
        with pytest.raises(ValueError):
            TurnLimit(roll_knee_deg=40.0, roll_limit_deg=30.0)


class TestRetargeterTurns:
    @pytest.mark.parametrize("yaw", [15.0, -15.0, 40.0, 70.0, -70.0])
    def test_source_turns_by_the_limited_amount(self, astronaut_face, yaw):
        driver = _turned(astronaut_face, yaw)
        base = head_pose(astronaut_face.points).yaw
        out = AnalyticRetargeter("relative", turn_limit=LIMIT).retarget(astronaut_face, astronaut_face, driver)
        assert head_pose(out.points).yaw - base == pytest.approx(float(soft_saturate(yaw, LIMIT)), abs=2.0)
        free = AnalyticRetargeter("relative", turn_limit=None).retarget(astronaut_face, astronaut_face, driver)
        assert head_pose(free.points).yaw - base == pytest.approx(yaw, abs=2.0)


class _FollowsTheDriver:
    """A retargeter with no turn limit of its own, as the IDSG: the driver's points as they are."""

    def retarget(self, source, driver_ref, driver):
        return driver


class TestEditingStageLimitsEveryRetargeter:
    def test_large_turn_is_limited_small_one_untouched(self, astronaut_face):
        from streamer.edit_controls import EditingRetargeter

        stage = EditingRetargeter(_FollowsTheDriver(), turn_limit=LIMIT)
        base = head_pose(astronaut_face.points).yaw
        far = stage.retarget(astronaut_face, astronaut_face, _turned(astronaut_face, 70))
        assert head_pose(far.points).yaw - base == pytest.approx(float(soft_saturate(70, LIMIT)), abs=2.0)
        near = _turned(astronaut_face, 15)
        assert np.array_equal(stage.retarget(astronaut_face, astronaut_face, near).points, near.points)


class TestZoomLimit:
    def test_scale_and_shift_are_softly_bounded(self):
        from streamer.turn_limit import ZoomLimit

        z = ZoomLimit()
        assert z.scale(1.05) == pytest.approx(1.05) and z.scale(1 / 1.05) == pytest.approx(1 / 1.05)
        assert 1.2 < z.scale(3.0) < np.exp(z.scale_limit) and np.exp(-z.scale_limit) < z.scale(0.3) < 0.85
        assert z.scale(2.0) < z.scale(3.0)  # monotone
        np.testing.assert_allclose(z.shift(np.array([10.0, 0, 0]), 100.0), [10.0, 0, 0])
        far = z.shift(np.array([0.0, 300.0, 0]), 100.0)
        assert 30.0 < far[1] < 40.0 and far[0] == 0.0

    def test_a_driver_zooming_in_does_not_blow_the_source_up(self, astronaut_face):
        from streamer.pose import face_width

        p = astronaut_face.points.astype(np.float64)
        c = p.mean(axis=0)
        close_up = astronaut_face.with_points((p - c) * 3.0 + c + (0.0, 400.0, 0.0))  # a cut to a close-up
        out = AnalyticRetargeter("relative").retarget(astronaut_face, astronaut_face, close_up)
        grown = face_width(out.points) / face_width(p)
        moved = np.linalg.norm(out.points.mean(axis=0)[:2] - c[:2]) / face_width(p)
        assert grown < 1.3 and moved < 0.45
        free = AnalyticRetargeter("relative", zoom_limit=None).retarget(astronaut_face, astronaut_face, close_up)
        assert face_width(free.points) / face_width(p) == pytest.approx(3.0, rel=0.02)
