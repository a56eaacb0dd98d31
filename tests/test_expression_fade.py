"""The driver's expression fades on large turns, where MediaPipe's turned face shape is not its frontal one (#14)."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.landmarks import FaceLandmarks
from streamer.retarget import _LOWER_LIP_WEIGHTS, AnalyticRetargeter, mouth_gap
from streamer.turn_limit import DEFAULT_EXPRESSION_FADE, ExpressionFade
from tests.test_retarget import move

BROWS = np.arange(17, 27)


def raised(face: FaceLandmarks, by: float = 12.0) -> FaceLandmarks:
    """``face`` with its brows raised by ``by`` pixels (an expression, no head motion)."""
    p = face.points.astype(np.float64).copy()
    p[BROWS, 1] -= by
    return face.with_points(p)


def test_weight_is_one_to_the_knee_then_falls_smoothly_to_the_floor():
    fade = ExpressionFade(knee_deg=15.0, end_deg=35.0, floor=0.2)
    angles = np.linspace(0.0, 60.0, 241)
    w = np.array([fade.weight(a) for a in angles])
    assert (w[angles <= 15.0] == 1.0).all() and np.allclose(w[angles >= 35.0], 0.2)
    assert (np.diff(w) <= 1e-12).all()  # never rises with the turn
    assert np.abs(np.diff(w)).max() < 0.02  # no jump (0.25-degree steps)
    assert fade.weight(-25.0) == fade.weight(25.0) == pytest.approx(0.6)


def test_default_passes_everything_below_fifteen_degrees_and_nothing_past_thirty_five():
    assert DEFAULT_EXPRESSION_FADE.weight(15.0) == 1.0
    assert DEFAULT_EXPRESSION_FADE.weight(35.0) == 0.0


@pytest.mark.parametrize("yaw", [0.0, 10.0])
def test_small_turns_pass_the_whole_expression(astronaut_face, yaw):
    cur = move(raised(astronaut_face), yaw=yaw)
    faded = AnalyticRetargeter().retarget(astronaut_face, astronaut_face, cur)
    full = AnalyticRetargeter(expression_fade=None).retarget(astronaut_face, astronaut_face, cur)
    np.testing.assert_allclose(faded.points, full.points, atol=1e-6)


def test_a_large_turn_keeps_the_pose_and_the_mouth_but_not_the_shape_change(astronaut_face):
    ref = astronaut_face
    cur = move(raised(ref), yaw=40.0, mouth=25.0)
    unfaded = AnalyticRetargeter(expression_fade=None)
    faded = AnalyticRetargeter().retarget(astronaut_face, ref, cur).points
    full = unfaded.retarget(astronaut_face, ref, cur).points
    plain = unfaded.retarget(astronaut_face, ref, move(ref, yaw=40.0, mouth=25.0)).points
    still = np.setdiff1d(np.arange(68), list(_LOWER_LIP_WEIGHTS))
    # the turned head without the raised brows, and the driver's mouth opening as before
    np.testing.assert_allclose(faded[still], plain[still], atol=0.05)
    assert mouth_gap(faded) == pytest.approx(mouth_gap(full), abs=0.01)
    assert np.abs(full[BROWS] - faded[BROWS]).max() > 5.0
