"""LK propagation on a shifted real image; the online shape model's fit."""

from __future__ import annotations

import cv2
import numpy as np

from streamer.geometry import rotation_matrix
from streamer.pose import visibility_from_landmarks
from streamer.tracking_flow import FlowPropagator, to_gray
from streamer.tracking_shape import ShapeModel


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


class TestFlow:
    def test_subpixel_shift_of_a_real_face(self, astronaut, astronaut_face):
        flow = FlowPropagator()
        flow.reset(to_gray(astronaut))
        shift = np.array([3.4, -2.1])
        res = flow.propagate(to_gray(_shift(astronaut, *shift)), astronaut_face.xy)
        assert res is not None
        good = res.ok & (res.fb_error < 0.5)
        assert good.mean() > 0.9
        err = np.linalg.norm(res.points[good] - astronaut_face.xy[good] - shift, axis=1)
        assert np.median(err) < 0.1 and err.max() < 0.5

    def test_large_motion_with_a_guess(self, astronaut, astronaut_face):
        flow = FlowPropagator()
        flow.reset(to_gray(astronaut))
        shift = np.array([45.0, 12.0])
        res = flow.propagate(to_gray(_shift(astronaut, *shift)), astronaut_face.xy, astronaut_face.xy + shift + 2.0)
        good = res.ok & (res.fb_error < 0.5)
        assert good.mean() > 0.9
        assert np.median(np.linalg.norm(res.points[good] - astronaut_face.xy[good] - shift, axis=1)) < 0.15

    def test_forward_backward_flags_points_on_a_changed_patch(self, astronaut, astronaut_face):
        flow = FlowPropagator()
        flow.reset(to_gray(astronaut))
        moved = _shift(astronaut, 2.0, 0.0)
        rng = np.random.default_rng(0)
        x0, y0 = astronaut_face.xy[48:68].min(axis=0).astype(int) - 4
        x1, y1 = astronaut_face.xy[48:68].max(axis=0).astype(int) + 4
        moved[y0:y1, x0:x1] = rng.integers(0, 255, (y1 - y0, x1 - x0, 3))  # the mouth replaced by noise
        res = flow.propagate(to_gray(moved), astronaut_face.xy)
        mouth_bad = ~(res.ok[48:68] & (res.fb_error[48:68] < 0.5))
        eyes_good = res.ok[36:48] & (res.fb_error[36:48] < 0.5)
        assert mouth_bad.mean() > 0.5
        assert eyes_good.mean() > 0.9

    def test_no_previous_frame(self, astronaut, astronaut_face):
        assert FlowPropagator().propagate(to_gray(astronaut), astronaut_face.xy) is None


class TestShapeModel:
    def test_fit_recovers_pose_and_hidden_points(self, astronaut_face):
        model = ShapeModel()
        model.observe(astronaut_face.points)
        centre = astronaut_face.points.mean(axis=0)
        rot = rotation_matrix(25.0, -10.0, 8.0)
        moved = (astronaut_face.points - centre) @ rot.T * 1.3 + centre + np.array([20.0, -5.0, 0.0])
        xy = moved[:, :2].copy()
        weights = np.ones(68)
        xy[48:68] += 15.0  # the mouth is "occluded": its points are wrong but weighted out
        weights[48:68] = 1e-4
        fit = model.fit(xy, weights)
        err = np.linalg.norm(fit.points[:, :2] - moved[:, :2], axis=1)
        size = astronaut_face.size
        assert err.mean() < 0.01 * size and err[48:68].max() < 0.03 * size
        assert abs(fit.scale / model_scale(astronaut_face.points) - 1.3) < 0.02

    def test_depth_from_the_fit_hides_the_far_cheek(self, astronaut_face):
        # Only 2D points of a face turned by 60 degrees: the fit's depth must flag the far jaw hidden.
        model = ShapeModel()
        model.observe(astronaut_face.points)
        centre = astronaut_face.points.mean(axis=0)
        turned = (astronaut_face.points - centre) @ rotation_matrix(60.0, 0.0, 0.0).T + centre
        fit = model.fit(turned[:, :2], np.ones(68))
        vis = visibility_from_landmarks(np.column_stack([turned[:, :2], fit.points[:, 2]]))
        frontal = visibility_from_landmarks(astronaut_face.points)
        assert frontal[:17].min() > 0.5
        hidden = vis[:17] < 0.5
        assert 2 <= hidden.sum() <= 10  # one side of the jaw only
        assert hidden[:4].all() != hidden[13:].all()
        assert vis[27:36].min() > 0.5  # the nose stays visible

    def test_expression_modes_explain_seen_expressions(self, astronaut_face):
        model = ShapeModel()
        pts = astronaut_face.points.astype(np.float64)
        rng = np.random.default_rng(0)
        jaw_drop = np.zeros_like(pts)
        jaw_drop[np.r_[5:12, 55:60, 65:68], 1] = 1.0
        for _ in range(20):
            model.observe(pts + rng.uniform(0, 12) * jaw_drop + rng.normal(0, 0.05, pts.shape))
        assert len(model.stds) >= 1
        target = pts + 10 * jaw_drop
        fit = model.fit(target[:, :2], np.ones(68))
        assert np.linalg.norm(fit.points[:, :2] - target[:, :2], axis=1).max() < 1.0
        rigid_only = ShapeModel()
        rigid_only.observe(pts)
        fit0 = rigid_only.fit(target[:, :2], np.ones(68))
        assert np.linalg.norm(fit0.points[:, :2] - target[:, :2], axis=1).max() > 3.0


def model_scale(points: np.ndarray) -> float:
    """RMS radius of the points: the model's unit."""
    p = np.asarray(points, np.float64)
    return float(np.sqrt(((p - p.mean(axis=0)) ** 2).sum(axis=1).mean()))
