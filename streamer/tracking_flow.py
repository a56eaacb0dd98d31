"""The local integrator: pyramidal Lucas-Kanade propagation of points with a forward-backward check.

Convention: points are (N, 2) float image coordinates (x right, y down, pixel centres at integers,
as OpenCV's ``calcOpticalFlowPyrLK``). OpenCV's Python binding cannot take prebuilt pyramids, so
each LK pass builds its own; the previous grey frame is kept between calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FlowConfig:
    """Lucas-Kanade settings."""

    win_size: int = 21  #: LK window side (pixels at each pyramid level)
    max_level: int = 3  #: pyramid levels above the base (motion up to about win_size * 2**max_level / 2 px)
    iterations: int = 30  #: LK iterations per level
    epsilon: float = 0.01  #: LK convergence threshold (px)
    min_eig: float = 1e-4  #: LK's minimum-eigenvalue threshold: flat patches fail instead of sliding


@dataclass(frozen=True)
class FlowResult:
    """Propagated points, per-point forward-backward error (px) and LK success."""

    points: np.ndarray  # (N, 2) positions in the current frame
    fb_error: np.ndarray  # (N,) |back-tracked - original|, inf where LK failed
    ok: np.ndarray  # (N,) bool: both LK passes converged

    @property
    def displacement_valid(self) -> np.ndarray:
        """Points whose flow is finite."""
        return self.ok & np.isfinite(self.fb_error)


def to_gray(frame_bgr: np.ndarray) -> np.ndarray:
    """8-bit grey image of a BGR (or already grey) frame."""
    if frame_bgr.ndim == 2:
        return frame_bgr
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)


class FlowPropagator:
    """Keeps the previous grey frame and moves points from it to the current frame."""

    def __init__(self, config: FlowConfig | None = None):
        self.config = config or FlowConfig()
        self._prev: np.ndarray | None = None
        cfg = self.config
        self._criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, cfg.iterations, cfg.epsilon)

    def reset(self, gray: np.ndarray | None = None) -> None:
        """Forget the previous frame (or start from ``gray``)."""
        self._prev = gray

    @property
    def ready(self) -> bool:
        """Whether a previous frame is held."""
        return self._prev is not None

    def propagate(self, gray: np.ndarray, points: np.ndarray, guess: np.ndarray | None = None) -> FlowResult | None:
        """Move ``points`` (previous frame) into ``gray`` (current frame); ``guess`` seeds LK.

        Returns None when there is no previous frame. The current frame becomes the previous one.
        """
        cur = gray
        prev, self._prev = self._prev, cur
        if prev is None:
            return None
        p0 = np.ascontiguousarray(points, np.float32).reshape(-1, 1, 2)
        cfg = self.config
        win = (cfg.win_size, cfg.win_size)
        flags = cv2.OPTFLOW_LK_GET_MIN_EIGENVALS
        if guess is not None:
            p1 = np.ascontiguousarray(guess, np.float32).reshape(-1, 1, 2).copy()
            flags |= cv2.OPTFLOW_USE_INITIAL_FLOW
        else:
            p1 = p0.copy()
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(
            prev,
            cur,
            p0,
            p1,
            winSize=win,
            maxLevel=cfg.max_level,
            criteria=self._criteria,
            flags=flags,
            minEigThreshold=cfg.min_eig,
        )
        # The backward pass starts from p1 itself (no initial flow), so it cannot be drawn to p0.
        back, st2, _ = cv2.calcOpticalFlowPyrLK(
            cur,
            prev,
            p1,
            None,
            winSize=win,
            maxLevel=cfg.max_level,
            criteria=self._criteria,
            flags=cv2.OPTFLOW_LK_GET_MIN_EIGENVALS,
            minEigThreshold=cfg.min_eig,
        )
        ok = (st1.ravel() == 1) & (st2.ravel() == 1)
        fb = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
        fb = np.where(ok & np.isfinite(fb), fb, np.inf)
        return FlowResult(p1.reshape(-1, 2).astype(np.float64), fb, ok)
