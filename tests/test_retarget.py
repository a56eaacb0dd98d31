import numpy as np
import pytest

from streamer.geometry import rotation_matrix
from streamer.landmarks import FaceLandmarks
from streamer.pose import expression_vector, head_axes, head_pose
from streamer.retarget import (
    _LOWER_LIP_WEIGHTS,
    _PHILTRUM,
    MIN_PHILTRUM_SHARE,
    MOUTH_GAP_GAIN,
    AnalyticRetargeter,
    mouth_gap,
)


def move(face: FaceLandmarks, yaw=0.0, pitch=0.0, roll=0.0, scale=1.0, shift=(0, 0), mouth=0.0) -> FaceLandmarks:
    p = face.points.astype(np.float64).copy()
    p[[65, 66, 67, 56, 57, 58, 7, 8, 9]] += (0, mouth, 0)
    c = p.mean(axis=0)
    p = scale * (p - c) @ rotation_matrix(yaw, pitch, roll).T + c + (*shift, 0)
    return face.with_points(p)


@pytest.fixture()
def driver(astronaut_face) -> FaceLandmarks:
    """A driver with another face shape: narrower and longer, elsewhere in its frame, at another scale."""
    p = astronaut_face.points.astype(np.float64).copy()
    c = p.mean(axis=0)
    p = (p - c) * (0.8, 1.15, 0.9) * 1.6 + c + (300, 50, 0)
    return astronaut_face.with_points(p)


class TestRelative:
    def test_reference_frame_gives_the_source_back(self, astronaut_face, driver):
        out = AnalyticRetargeter("relative", absolute_mouth=False).retarget(astronaut_face, driver, driver)
        np.testing.assert_allclose(out.points, astronaut_face.points, atol=1e-3)
        out = AnalyticRetargeter("relative").retarget(astronaut_face, driver, driver)
        still = np.setdiff1d(np.arange(68), list(_LOWER_LIP_WEIGHTS))
        np.testing.assert_allclose(out.points[still], astronaut_face.points[still], atol=1e-3)

    @pytest.mark.parametrize("gain", [1.0, MOUTH_GAP_GAIN])
    def test_mouth_gap_is_the_photos_plus_the_gain_times_the_drivers_beyond_it(self, astronaut_face, driver, gain):
        for mouth in (0.0, 20.0, 45.0):
            cur = move(driver, yaw=15, mouth=mouth)
            out = AnalyticRetargeter("relative", mouth_gain=gain).retarget(astronaut_face, driver, cur)
            own = mouth_gap(astronaut_face.points)
            want = own + gain * (max(mouth_gap(cur.points), 0) - own)
            assert mouth_gap(out.points) == pytest.approx(max(want, 0), abs=0.01)

    def test_a_photo_driving_itself_keeps_its_mouth(self, astronaut_face):
        opened = move(astronaut_face, mouth=25)
        out = AnalyticRetargeter("relative").retarget(opened, opened, opened)
        assert mouth_gap(out.points) == pytest.approx(mouth_gap(opened.points), abs=1e-6)

    def test_head_turn_transfers(self, astronaut_face, driver):
        turned = move(driver, yaw=25, pitch=-10, roll=6)
        out = AnalyticRetargeter("relative").retarget(astronaut_face, driver, turned)
        p0, p1 = head_pose(astronaut_face.points), head_pose(out.points)
        assert p1.yaw - p0.yaw == pytest.approx(25, abs=2)
        assert p1.pitch - p0.pitch == pytest.approx(-10, abs=2)
        assert p1.roll - p0.roll == pytest.approx(6, abs=2)

    def test_translation_scales_into_the_source(self, astronaut_face, driver):
        shifted = move(driver, shift=(32, 0))  # driver face is 1.6x larger than the source
        out = AnalyticRetargeter("relative").retarget(astronaut_face, driver, shifted)
        dx = (out.points - astronaut_face.points)[:, 0].mean()
        assert dx == pytest.approx(32 / 1.6 / 0.8 * 0.8, rel=0.25)

    def test_expression_transfers_and_source_shape_stays(self, astronaut_face, driver):
        opened = move(driver, mouth=30)
        out = AnalyticRetargeter("relative").retarget(astronaut_face, driver, opened)
        assert expression_vector(out.points)[0] > expression_vector(astronaut_face.points)[0] + 0.1
        # the source keeps its own jaw width and face proportions (the driver's are narrower)
        width = lambda f: np.linalg.norm(f.points[16, :2] - f.points[0, :2])  # noqa: E731
        height = lambda f: np.linalg.norm(f.points[27, :2] - f.points[33, :2])  # noqa: E731 (not moved by the mouth)
        assert width(out) == pytest.approx(width(astronaut_face), rel=0.03)
        ratio_src = width(astronaut_face) / height(astronaut_face)
        assert width(out) / height(out) == pytest.approx(ratio_src, rel=0.03)

    def test_lips_never_cross(self, astronaut_face, driver):
        closed = move(driver, mouth=-60)  # pushes the lower lip far above the upper one
        out = AnalyticRetargeter("relative").retarget(astronaut_face, driver, closed)
        down = head_axes(out.points)[:, 1]
        gaps = (out.points[[65, 66, 67]] - out.points[[63, 62, 61]]) @ down
        assert (gaps >= -1e-3).all()


class TestAbsolute:
    def test_uses_the_drivers_shape(self, astronaut_face, driver):
        out = AnalyticRetargeter("absolute").retarget(astronaut_face, driver, driver)
        ratio = lambda p: np.linalg.norm(p[16, :2] - p[0, :2]) / np.linalg.norm(p[27, :2] - p[8, :2])  # noqa: E731
        assert ratio(out.points) == pytest.approx(ratio(driver.points), rel=0.01)
        assert ratio(out.points) < 0.85 * ratio(astronaut_face.points)


class TestPhiltrum:
    def raised(self, face: FaceLandmarks, lift: float) -> FaceLandmarks:
        p = face.points.astype(np.float64).copy()
        p[[49, 50, 51, 52, 53, 61, 62, 63]] -= (0, lift, 0)
        return face.with_points(p)

    def gaps(self, points: np.ndarray) -> np.ndarray:
        down = head_axes(points)[:, 1]
        return np.array([(points[lip] - points[nose]) @ down for nose, lip in _PHILTRUM])

    def test_a_raised_upper_lip_never_reaches_the_nose(self, astronaut_face):
        own = self.gaps(astronaut_face.points)
        for lift in (0.5, 1.0, 1.5):  # in shares of the photo's philtrum: up to past the nose base
            driver = self.raised(astronaut_face, lift * own.mean())
            out = AnalyticRetargeter("relative").retarget(astronaut_face, astronaut_face, driver)
            assert (self.gaps(out.points) >= MIN_PHILTRUM_SHARE * own - 0.05).all()
            assert mouth_gap(out.points) >= -1e-6  # the inner lips did not cross either

    def test_a_small_raise_passes_unchanged(self, astronaut_face):
        own = self.gaps(astronaut_face.points)
        driver = self.raised(astronaut_face, 0.3 * own.mean())
        out = AnalyticRetargeter("relative", absolute_mouth=False).retarget(astronaut_face, astronaut_face, driver)
        np.testing.assert_allclose(out.points, driver.points, atol=1e-6)
