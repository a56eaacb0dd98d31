"""The editing stage on landmarks (fast, no dlib): each control moves what it names by the asked amount."""

import math

import numpy as np
import pytest

from streamer.edit_controls import (
    EditControls,
    EditingRetargeter,
    apply_edits,
    eye_opening,
)
from streamer.errors import InputError
from streamer.geometry import rotation_matrix
from streamer.landmarks import FaceLandmarks
from streamer.pose import expression_vector, head_pose
from streamer.retarget import AnalyticRetargeter, mouth_gap
from streamer.turn_limit import DEFAULT_TURN_LIMIT, limit_turn, soft_saturate, turn_angle, unlimit_turn

MOUTH_POINTS = [65, 66, 67, 56, 57, 58, 7, 8, 9]


def moved(points: np.ndarray, yaw=0.0, pitch=0.0, roll=0.0, mouth=0.0) -> np.ndarray:
    """``points`` with the lower lip lowered by ``mouth`` pixels, then turned about their centroid."""
    p = np.asarray(points, np.float64).copy()
    p[MOUTH_POINTS] += (0, mouth, 0)
    c = p.mean(axis=0)
    return (p - c) @ rotation_matrix(yaw, pitch, roll).T + c


def pose_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    pa, pb = head_pose(a), head_pose(b)
    return np.array([pb.yaw - pa.yaw, pb.pitch - pa.pitch, pb.roll - pa.roll])


@pytest.fixture(scope="module")
def src(astronaut_face) -> np.ndarray:
    return astronaut_face.points.astype(np.float64)


class TestControls:
    def test_defaults_change_nothing(self, src):
        assert EditControls().is_identity
        target = moved(src, yaw=10, mouth=12)
        assert apply_edits(src, target, EditControls()) is target

    @pytest.mark.parametrize(
        "name, value",
        [
            ("yaw", float("nan")),
            ("yaw", float("inf")),
            ("yaw", 46),
            ("pitch", -31),
            ("roll", 45.5),
            ("expression_scale", -0.1),
            ("expression_scale", 2.5),
            ("eyes_open", 1.6),
            ("lips_open", -0.01),
            ("lips_open", float("nan")),
            ("smile", 1.5),
            ("yaw", "20"),
            ("yaw", True),
            ("motion_from", "face"),
            ("yaw", 10**400),  # JSON allows integers no float holds
            ("smile", "x" * 500),
            ("motion_from", "y" * 500),
        ],
    )
    def test_bad_values_are_one_line_input_errors_naming_the_flag(self, name, value):
        with pytest.raises(InputError) as err:
            EditControls(**{name: value})
        message = str(err.value)
        assert "\n" not in message and len(message) < 120
        assert "--" + name.replace("_", "-") in message

    def test_limits_are_allowed(self):
        c = EditControls(yaw=-45, pitch=30, roll=45, expression_scale=2, eyes_open=1.5, lips_open=1, smile=-1)
        assert not c.is_identity
        assert c.describe().startswith("--yaw -45 --pitch 30")

    def test_updated_checks_and_refuses_unknown_names(self):
        assert EditControls().updated(yaw=10).yaw == 10
        with pytest.raises(InputError, match="--yaw"):
            EditControls().updated(yaw=90)
        with pytest.raises(InputError, match="unknown edit control"):
            EditControls().updated(gaze=1)


class TestHeadOffsets:
    @pytest.mark.parametrize("yaw, pitch, roll", [(15, 0, 0), (-12, 0, 0), (0, 10, 0), (0, -15, 0), (0, 0, 12)])
    def test_offset_moves_the_pose_by_the_asked_amount(self, src, yaw, pitch, roll):
        out = apply_edits(src, src, EditControls(yaw=yaw, pitch=pitch, roll=roll))
        # Euler angles couple: rolling a head pitched p degrees reads as about p * sin(roll) of yaw
        # (0.65 deg for the astronaut's 3.1 deg pitch as the refined mesh measures it, 0.48 for the plain one).
        base = head_pose(src)
        coupling = np.radians(abs(roll)) * max(abs(base.pitch), abs(base.yaw))
        np.testing.assert_allclose(pose_change(src, out), [yaw, pitch, roll], atol=0.6 + coupling)
        np.testing.assert_allclose(expression_vector(out), expression_vector(src), atol=1e-3)

    def test_offset_adds_to_the_drivers_turn(self, src):
        target = moved(src, yaw=8, pitch=-5)
        out = apply_edits(src, target, EditControls(yaw=10))
        np.testing.assert_allclose(pose_change(target, out), [10, 0, 0], atol=1.0)

    def test_offsets_go_through_the_turn_limit(self, src):
        out = apply_edits(src, src, EditControls(yaw=45))
        turned = pose_change(src, out)[0]
        assert turned == pytest.approx(float(soft_saturate(45.0)), abs=1.0)
        assert turned < DEFAULT_TURN_LIMIT.limit_deg
        free = apply_edits(src, src, EditControls(yaw=45), turn_limit=None)
        assert pose_change(src, free)[0] == pytest.approx(45, abs=1.0)

    def test_unlimit_undoes_limit(self):
        for yaw, pitch, roll in ((30, 0, 5), (10, 28, -7), (50, -20, 3), (5, 3, 1)):
            rot = rotation_matrix(yaw, pitch, roll)
            back = unlimit_turn(limit_turn(rot, DEFAULT_TURN_LIMIT), DEFAULT_TURN_LIMIT)
            np.testing.assert_allclose(back, rot, atol=1e-6)
        assert unlimit_turn(rotation_matrix(60, 0, 0), None) is not None

    def test_driver_and_offset_are_limited_once_after_the_analytic_retargeter(self, astronaut_face, src):
        retargeter = EditingRetargeter(AnalyticRetargeter("relative"), EditControls(yaw=15))
        driver = astronaut_face.with_points(moved(src, yaw=20))
        out = retargeter.retarget(astronaut_face, astronaut_face, driver)
        # 20 from the driver + 15 asked = 35 before the one soft limit
        assert pose_change(src, out.points)[0] == pytest.approx(float(soft_saturate(35.0)), abs=1.5)
        assert turn_angle(rotation_matrix(35, 0, 0)) == pytest.approx(35)


class TestExpression:
    def test_scale_zero_keeps_the_sources_expression_and_the_drivers_pose(self, astronaut_face, src):
        driver = astronaut_face.with_points(moved(src, yaw=12, mouth=25))
        plain = AnalyticRetargeter("relative").retarget(astronaut_face, astronaut_face, driver)
        assert mouth_gap(plain.points) > mouth_gap(src) + 0.1
        out = apply_edits(src, plain.points, EditControls(expression_scale=0))
        assert mouth_gap(out) == pytest.approx(mouth_gap(src), abs=0.01)
        np.testing.assert_allclose(pose_change(plain.points, out), 0, atol=0.5)

    def test_scale_two_doubles_the_drivers_mouth_motion(self, astronaut_face, src):
        driver = astronaut_face.with_points(moved(src, mouth=15))
        plain = AnalyticRetargeter("relative").retarget(astronaut_face, astronaut_face, driver).points
        out = apply_edits(src, plain, EditControls(expression_scale=2))
        expected = mouth_gap(src) + 2 * (mouth_gap(plain) - mouth_gap(src))
        assert mouth_gap(out) == pytest.approx(expected, abs=0.02)

    def test_motion_from_pose_keeps_the_mouth_still_while_the_head_moves(self, astronaut_face, src):
        driver = astronaut_face.with_points(moved(src, yaw=10, pitch=6, mouth=25))
        plain = AnalyticRetargeter("relative").retarget(astronaut_face, astronaut_face, driver).points
        out = apply_edits(src, plain, EditControls(motion_from="pose"))
        np.testing.assert_allclose(expression_vector(out), expression_vector(src), atol=0.01)
        np.testing.assert_allclose(pose_change(src, out), pose_change(src, plain), atol=0.5)

    def test_motion_from_expression_keeps_the_photos_pose(self, astronaut_face, src):
        driver = astronaut_face.with_points(moved(src, yaw=10, pitch=6, mouth=25))
        plain = AnalyticRetargeter("relative").retarget(astronaut_face, astronaut_face, driver).points
        out = apply_edits(src, plain, EditControls(motion_from="expression"))
        np.testing.assert_allclose(pose_change(src, out), 0, atol=0.5)
        assert mouth_gap(out) == pytest.approx(mouth_gap(plain), abs=0.01)

    @pytest.mark.parametrize("ratio", [0.0, 0.5, 1.0, 1.4])
    def test_eyes_open_is_a_fraction_of_the_photos_opening(self, src, ratio):
        target = moved(src, yaw=8)
        out = apply_edits(src, target, EditControls(eyes_open=ratio))
        np.testing.assert_allclose(eye_opening(out), ratio * eye_opening(src), atol=0.05)
        assert mouth_gap(out) == pytest.approx(mouth_gap(target), abs=0.005)

    @pytest.mark.parametrize("gap", [0.0, 0.3, 0.6])
    def test_lips_open_sets_the_inner_lip_gap(self, src, gap):
        out = apply_edits(src, moved(src, pitch=-8, mouth=20), EditControls(lips_open=gap))
        assert mouth_gap(out) == pytest.approx(gap, abs=0.01)

    def test_smile_widens_and_lifts_the_mouth_corners_and_frown_lowers_them(self, src):
        def corners_above_centre(p):
            return float(p[[51, 57], 1].mean() - p[[48, 54], 1].mean())

        width = lambda p: float(np.linalg.norm(p[54, :2] - p[48, :2]))  # noqa: E731
        smile, frown = apply_edits(src, src, EditControls(smile=1)), apply_edits(src, src, EditControls(smile=-1))
        assert width(smile) > width(src) * 1.08
        assert corners_above_centre(smile) > corners_above_centre(src) + 3
        assert corners_above_centre(frown) < corners_above_centre(src) - 3

    def test_edits_never_cross_lips_or_lids(self, src):
        out = apply_edits(src, src, EditControls(expression_scale=2, eyes_open=0, lips_open=0, smile=-1))
        assert (eye_opening(out) >= -1e-6).all()
        assert mouth_gap(out) >= -1e-6


class TestEditingRetargeter:
    def test_controls_apply_from_the_next_frame_and_attributes_pass_through(self, astronaut_face, src):
        inner = AnalyticRetargeter("relative")
        retargeter = EditingRetargeter(inner)
        first = retargeter.retarget(astronaut_face, astronaut_face, astronaut_face)
        np.testing.assert_allclose(first.points, inner.retarget(astronaut_face, astronaut_face, astronaut_face).points)
        retargeter.controls = EditControls(roll=10)
        second = retargeter.retarget(astronaut_face, astronaut_face, astronaut_face)
        assert pose_change(src, second.points)[2] == pytest.approx(10, abs=0.6)
        assert retargeter.turn_limit is inner.turn_limit
        assert isinstance(second, FaceLandmarks) and second.visibility.shape == (68,)
        assert math.isfinite(float(second.points.sum()))


class _FixedRetargeter:
    """A retargeter without a turn limit of its own (as the IDSG): always the same target."""

    def __init__(self, target: np.ndarray):
        self.target = target

    def retarget(self, source, driver_ref, driver):
        return source.with_points(self.target)


def test_a_retargeter_without_a_turn_limit_is_limited_once_with_the_offset(astronaut_face, src):
    target = moved(src, yaw=30)  # past the knee, not limited by this retargeter
    out = EditingRetargeter(_FixedRetargeter(target), EditControls(yaw=10)).retarget(
        astronaut_face, astronaut_face, astronaut_face
    )
    assert pose_change(src, out.points)[0] == pytest.approx(float(soft_saturate(40.0)), abs=1.0)
