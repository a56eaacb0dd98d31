"""An online 3D shape model of the tracked face: a rigid mean plus a few expression modes.

Built only from the detections of the current stream (no shipped model): each detection's 3D
points are aligned to the running mean by a 3D similarity (Umeyama), and the mean and a PCA of
the aligned shapes are refreshed every few detections. ``fit`` explains 2D points as a
weak-perspective view of the model (scale, 3D rotation, 2D shift, expression coefficients with a
Gaussian prior), which gives a plausible 68-point shape, depth and the head pose even for points
the detector and the flow could not see.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from streamer.geometry import umeyama
from streamer.pose import head_axes


@dataclass(frozen=True)
class ShapeConfig:
    """Online shape model settings."""

    max_samples: int = 300  #: detections kept for the mean and the PCA (the oldest are dropped)
    modes: int = 6  #: expression modes kept at most
    min_samples_for_modes: int = 8  #: detections needed before expression modes are used
    refit_every: int = 4  #: refresh mean and modes after this many new detections
    noise: float = 0.01  #: 2D fit noise as a fraction of the model's scale (weights the prior)
    iterations: int = 2  #: alternations of pose and expression fits


@dataclass(frozen=True)
class ShapeFit:
    """A weak-perspective fit: ``points`` (68, 3) in image pixels, pose, expression coefficients."""

    points: np.ndarray
    rotation: np.ndarray  # 3x3 model -> camera
    scale: float
    shift: np.ndarray  # (2,)
    coefficients: np.ndarray


def _normalise(points: np.ndarray) -> np.ndarray:
    """Centre, scale to unit RMS radius and rotate into the head frame."""
    p = np.asarray(points, np.float64)
    p = p - p.mean(axis=0)
    p = p / (np.sqrt((p**2).sum(axis=1).mean()) + 1e-12)
    return p @ head_axes(p)


class ShapeModel:
    """Running mean shape and expression modes of one face, in a unit-size canonical frame."""

    def __init__(self, config: ShapeConfig | None = None):
        self.config = config or ShapeConfig()
        self._samples: deque[np.ndarray] = deque(maxlen=self.config.max_samples)
        self._since_refit = 0
        self.mean: np.ndarray | None = None
        self.basis = np.zeros((0, 68, 3))
        self.stds = np.zeros(0)

    @property
    def ready(self) -> bool:
        """Whether at least one detection has been observed."""
        return self.mean is not None

    def observe(self, points3d: np.ndarray) -> None:
        """Add a detection's 3D points (image pixels, any pose)."""
        if self.mean is None:
            self.mean = _normalise(points3d)
            self._samples.append(self.mean.copy())
            return
        s, rot, t = umeyama(np.asarray(points3d, np.float64), self.mean)
        self._samples.append(s * np.asarray(points3d, np.float64) @ rot.T + t)
        self._since_refit += 1
        if self._since_refit >= self.config.refit_every:
            self._refit()

    def _refit(self) -> None:
        self._since_refit = 0
        stack = np.stack(self._samples)
        self.mean = stack.mean(axis=0)
        cfg = self.config
        if len(stack) < cfg.min_samples_for_modes:
            return
        flat = (stack - self.mean).reshape(len(stack), -1)
        _, sv, vt = np.linalg.svd(flat, full_matrices=False)
        stds = sv / np.sqrt(len(stack))
        keep = min(cfg.modes, int((stds > 1e-3).sum()))
        self.basis = vt[:keep].reshape(keep, 68, 3)
        self.stds = stds[:keep]

    def fit(self, xy: np.ndarray, weights: np.ndarray) -> ShapeFit:
        """Weak-perspective fit of the model to 2D points ``xy`` (68, 2) with per-point ``weights``."""
        if self.mean is None:
            raise RuntimeError("the shape model has no detection yet")
        xy = np.asarray(xy, np.float64)
        w = np.clip(np.asarray(weights, np.float64), 1e-6, None)
        sw = np.sqrt(w)[:, None]
        coeffs = np.zeros(len(self.stds))
        shape = self.mean
        for _ in range(self.config.iterations):
            scale, r2, shift = _affine_camera(shape, xy, sw)
            coeffs = self._expression(xy, w, scale, r2, shift)
            shape = self.mean + np.tensordot(coeffs, self.basis, axes=1)
        scale, r2, shift = _affine_camera(shape, xy, sw)
        rot = np.vstack([r2, np.cross(r2[0], r2[1])])
        cam = scale * shape @ rot.T
        cam[:, :2] += shift
        return ShapeFit(cam, rot, scale, shift, coeffs)

    def _expression(self, xy: np.ndarray, w: np.ndarray, scale: float, r2: np.ndarray, shift: np.ndarray) -> np.ndarray:
        if len(self.stds) == 0:
            return np.zeros(0)
        resid = xy - (scale * self.mean @ r2.T + shift)  # (68, 2)
        design = scale * np.einsum("kpd,ed->kpe", self.basis, r2)  # (k, 68, 2)
        d = design.reshape(len(self.stds), -1)  # (k, 136)
        ww = np.repeat(w, 2)
        noise = (self.config.noise * scale) ** 2
        lhs = (d * ww) @ d.T / noise + np.diag(1.0 / self.stds**2)
        rhs = (d * ww) @ resid.reshape(-1) / noise
        return np.linalg.solve(lhs, rhs)


def _affine_camera(shape: np.ndarray, xy: np.ndarray, sw: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted affine camera fit, projected to a scaled orthographic one: (scale, 2x3 rows, shift)."""
    design = np.hstack([shape, np.ones((len(shape), 1))])
    sol, *_ = np.linalg.lstsq(design * sw, xy * sw, rcond=None)
    a = sol[:3].T  # 2x3
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    r2 = u @ vt
    scale = float(s.mean())
    wts = sw[:, 0] ** 2
    shift = ((xy - scale * shape @ r2.T) * wts[:, None]).sum(axis=0) / wts.sum()
    return scale, r2, shift
