"""Per-coordinate temporal filters for the landmark tracker, vectorised over all coordinates.

``VelocityKalman`` is a constant-velocity Kalman filter per coordinate whose state is the position
and the displacement over the last frame; it takes two kinds of measurement: absolute positions
(the detector, the global integrator) and displacements (optical flow, the local integrator).
``OneEuroFilter`` is the adaptive low-pass of Casiez et al. (CHI 2012) applied on the output.
Time is counted in frames for the Kalman filter and in seconds for the One-Euro filter.
"""

from __future__ import annotations

import numpy as np


class VelocityKalman:
    """Constant-velocity Kalman filter for ``n`` independent coordinates.

    Model (per coordinate, one step = one frame): ``v_t = v_{t-1} + a_t`` and ``x_t = x_{t-1} + v_t``
    with white acceleration ``a_t ~ N(0, q_vel)`` and an extra position noise ``q_pos``. So ``v_t``
    is the displacement from the previous frame, which is what optical flow measures.
    The 2x2 covariance is stored as three arrays (``pxx``, ``pxv``, ``pvv``).
    """

    def __init__(self, x: np.ndarray, var_x: np.ndarray | float, var_v: np.ndarray | float):
        self.x = np.asarray(x, np.float64).copy()
        self.v = np.zeros_like(self.x)
        self.pxx = np.broadcast_to(np.asarray(var_x, np.float64), self.x.shape).copy()
        self.pxv = np.zeros_like(self.x)
        self.pvv = np.broadcast_to(np.asarray(var_v, np.float64), self.x.shape).copy()

    def predict(self, q_vel: np.ndarray | float, q_pos: np.ndarray | float = 0.0) -> np.ndarray:
        """Advance one frame; returns the predicted positions."""
        pvv = self.pvv + q_vel
        pxv = self.pxv + pvv
        pxx = self.pxx + 2.0 * self.pxv + pvv + q_pos
        self.x = self.x + self.v
        self.pxx, self.pxv, self.pvv = pxx, pxv, pvv
        return self.x

    def update_position(self, z: np.ndarray, r: np.ndarray | float, mask: np.ndarray | None = None) -> np.ndarray:
        """Fuse position measurements ``z`` with variances ``r``; returns the innovation."""
        innov = np.asarray(z, np.float64) - self.x
        s = self.pxx + r
        kx, kv = self.pxx / s, self.pxv / s
        self._apply(innov, kx, kv, self.pxx, self.pxv, mask)
        return innov

    def update_velocity(self, z: np.ndarray, r: np.ndarray | float, mask: np.ndarray | None = None) -> np.ndarray:
        """Fuse displacement measurements ``z`` (this frame minus the last) with variances ``r``."""
        innov = np.asarray(z, np.float64) - self.v
        s = self.pvv + r
        kx, kv = self.pxv / s, self.pvv / s
        self._apply(innov, kx, kv, self.pxv, self.pvv, mask)
        return innov

    def _apply(
        self, innov: np.ndarray, kx: np.ndarray, kv: np.ndarray, hx: np.ndarray, hv: np.ndarray, mask: np.ndarray | None
    ) -> None:
        # Joseph-free scalar update: P <- P - K H P, with H P = (hx, hv) the measured row of P.
        m = np.ones_like(self.x) if mask is None else np.asarray(mask, np.float64)
        kx, kv = kx * m, kv * m
        self.x = self.x + kx * innov
        self.v = self.v + kv * innov
        pxx = self.pxx - kx * hx
        pxv = self.pxv - kx * hv
        pvv = self.pvv - kv * hv
        self.pxx, self.pxv, self.pvv = pxx, pxv, pvv

    def shift(self, delta: np.ndarray) -> None:
        """Move the positions by ``delta`` (a correction from outside the filter, e.g. the shape prior)."""
        self.x = self.x + np.asarray(delta, np.float64)

    def damp_velocity(self, factor: float, mask: np.ndarray | None = None) -> None:
        """Shrink the velocities (where ``mask``) when nothing measured them: a held point slows down.

        The position-velocity covariance shrinks alike: a held point's position is not inferred from
        a later velocity measurement (which would otherwise be multiplied by the frames held).
        """
        f = factor if mask is None else np.where(mask, factor, 1.0)
        self.v = self.v * f
        self.pxv = self.pxv * f


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter: a low-pass whose cutoff rises with speed (``min_cutoff + beta * |dx/dt|``).

    ``scale`` divides the speed before it enters the cutoff, so speeds can be measured in
    face-normalised units while the signal stays in pixels.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def reset(self, x: np.ndarray | None = None) -> None:
        """Forget the history (or restart at ``x``)."""
        self._x = None if x is None else np.asarray(x, np.float64).copy()
        self._dx = None if x is None else np.zeros_like(self._x)

    def __call__(
        self,
        x: np.ndarray,
        dt: float,
        scale: float = 1.0,
        speed: np.ndarray | None = None,
        cutoff_floor: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """Filter one sample taken ``dt`` seconds after the previous one.

        ``speed`` (per second, same units as ``x``) replaces the filter's own derivative estimate
        when the caller has a better one (the tracker's flow-measured motion). ``cutoff_floor`` (Hz,
        per coordinate) raises the cutoff where the caller knows the signal changes fast.
        """
        x = np.asarray(x, np.float64)
        if self._x is None or self._dx is None:
            self.reset(x)
            return x.copy()
        dx = (x - self._x) / dt
        a_d = _alpha(self.d_cutoff, dt)
        self._dx = self._dx + a_d * (dx - self._dx)
        rate = np.abs(self._dx) if speed is None else np.asarray(speed, np.float64)
        cutoff = self.min_cutoff + self.beta * rate / scale
        if cutoff_floor is not None:
            cutoff = np.maximum(cutoff, cutoff_floor)
        a = _alpha(cutoff, dt)
        self._x = self._x + a * (x - self._x)
        return self._x.copy()

    def shift(self, delta: np.ndarray) -> None:
        """Move the filter's memory by ``delta`` without treating it as motion."""
        if self._x is not None:
            self._x = self._x + np.asarray(delta, np.float64)
