"""VelocityKalman and OneEuroFilter against textbook references."""

from __future__ import annotations

import numpy as np

from streamer.tracking_filters import OneEuroFilter, VelocityKalman


class ReferenceKalman:
    """Plain matrix Kalman filter for one coordinate, state (x, v) with x_t = x_{t-1} + v_t."""

    def __init__(self, x0: float, px: float, pv: float):
        self.s = np.array([x0, 0.0])
        self.p = np.diag([px, pv])

    def predict(self, q_vel: float, q_pos: float) -> None:
        f = np.array([[1.0, 1.0], [0.0, 1.0]])
        q = q_vel * np.ones((2, 2)) + np.diag([q_pos, 0.0])
        self.s = f @ self.s
        self.p = f @ self.p @ f.T + q

    def update(self, h: np.ndarray, z: float, r: float) -> None:
        s = h @ self.p @ h + r
        k = self.p @ h / s
        self.s = self.s + k * (z - h @ self.s)
        self.p = (np.eye(2) - np.outer(k, h)) @ self.p


class TestVelocityKalman:
    def test_matches_matrix_reference(self):
        rng = np.random.default_rng(1)
        n = 5
        ours = VelocityKalman(np.zeros(n), 2.0, 3.0)
        refs = [ReferenceKalman(0.0, 2.0, 3.0) for _ in range(n)]
        truth = np.cumsum(rng.normal(0, 1, (40, n)), axis=0)
        for t in range(1, 40):
            ours.predict(0.5, 0.01)
            for ref in refs:
                ref.predict(0.5, 0.01)
            disp = truth[t] - truth[t - 1] + rng.normal(0, 0.1, n)
            r_v = rng.uniform(0.01, 0.2, n)
            ours.update_velocity(disp, r_v)
            for i, ref in enumerate(refs):
                ref.update(np.array([0.0, 1.0]), disp[i], r_v[i])
            if t % 3 == 0:
                z = truth[t] + rng.normal(0, 1, n)
                mask = rng.random(n) > 0.3
                ours.update_position(z, 1.0, mask)
                for i, ref in enumerate(refs):
                    if mask[i]:
                        ref.update(np.array([1.0, 0.0]), z[i], 1.0)
            for i, ref in enumerate(refs):
                np.testing.assert_allclose([ours.x[i], ours.v[i]], ref.s, rtol=1e-9, atol=1e-9)
                np.testing.assert_allclose(
                    [[ours.pxx[i], ours.pxv[i]], [ours.pxv[i], ours.pvv[i]]], ref.p, rtol=1e-9, atol=1e-9
                )

    def test_velocity_measurements_track_a_ramp_without_lag(self):
        kf = VelocityKalman(np.zeros(1), 1.0, 1.0)
        for _ in range(1, 30):
            kf.predict(0.5)
            kf.update_velocity(np.array([2.0]), 0.01)
        assert abs(kf.x[0] - 58.0) < 0.5  # 29 steps of 2 px from 0 (the first step learns the speed)

    def test_position_measurements_average_noise(self):
        rng = np.random.default_rng(0)
        kf = VelocityKalman(np.zeros(1000), 1.0, 1e-6)
        for _ in range(50):
            kf.predict(1e-8)
            kf.update_position(rng.normal(0, 1, 1000), 1.0)
        assert kf.x.std() < 0.25  # about 1/sqrt(50) of the measurement noise


class TestOneEuro:
    def test_beta_zero_is_a_first_order_low_pass(self):
        rng = np.random.default_rng(2)
        xs = rng.normal(0, 1, (100, 3))
        f = OneEuroFilter(min_cutoff=1.5, beta=0.0)
        dt = 1 / 30
        tau = 1 / (2 * np.pi * 1.5)
        alpha = 1 / (1 + tau / dt)
        ref = xs[0].copy()
        for i, x in enumerate(xs):
            out = f(x, dt)
            if i:
                ref = ref + alpha * (x - ref)
            np.testing.assert_allclose(out, ref, rtol=1e-12)

    def test_speed_raises_the_cutoff(self):
        ramp = np.arange(60, dtype=float)[:, None] * 5.0
        slow = OneEuroFilter(1.0, 0.0)
        fast = OneEuroFilter(1.0, 1.0)
        lag_slow = ramp[-1] - [slow(x, 1 / 30) for x in ramp][-1]
        lag_fast = ramp[-1] - [fast(x, 1 / 30) for x in ramp][-1]
        assert lag_fast < 0.1 * lag_slow
        given = OneEuroFilter(1.0, 1.0)
        out = [given(x, 1 / 30, speed=np.array([150.0])) for x in ramp][-1]
        assert abs(ramp[-1] - out) < 0.6  # the caller's speed (150 px/s) sets the cutoff near 150 Hz
