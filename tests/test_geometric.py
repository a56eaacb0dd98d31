import numpy as np
import pytest

from streamer.detectors import create_detector
from streamer.geometry import rotation_matrix
from streamer.pipeline import prepare_source
from streamer.pose import expression_vector, head_pose
from streamer.reenactors.geometric import GeometricReenactor


@pytest.fixture(scope="module")
def prepared(astronaut, image_detector):
    reenactor = GeometricReenactor()
    return reenactor, prepare_source(astronaut, image_detector, reenactor)


def posed(points, yaw=0.0, pitch=0.0, mouth=0.0):
    p = points.astype(np.float64).copy()
    p[[65, 66, 67, 56, 57, 58, 7, 8, 9]] += (0, mouth, 0)
    c = p.mean(axis=0)
    return (p - c) @ rotation_matrix(yaw, pitch, 0).T + c


class TestGeometricReenactor:
    def test_identity_target_returns_the_source_crop(self, prepared):
        reenactor, src = prepared
        out = reenactor.render(src.state, src.crop_landmarks)
        diff = np.abs(out.astype(int) - src.crop.astype(int))
        mouth = np.zeros(diff.shape[:2], bool)
        x0, y0 = src.crop_landmarks.xy[48:60].min(0).astype(int)
        x1, y1 = src.crop_landmarks.xy[48:60].max(0).astype(int)
        mouth[y0 - 3 : y1 + 4, x0 - 3 : x1 + 4] = True
        assert diff[~mouth].mean() < 1.0
        assert np.percentile(diff[~mouth], 99) <= 3

    def test_step_with_driver_equal_to_reference_is_identity_too(self, prepared):
        reenactor, src = prepared
        a = reenactor.step(src.state, src.landmarks, src.landmarks)
        b = reenactor.render(src.state, src.crop_landmarks)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1

    @pytest.mark.parametrize("yaw", [-20, 20])
    def test_turned_output_reads_as_turned(self, prepared, yaw):
        reenactor, src = prepared
        target = src.crop_landmarks.with_points(posed(src.crop_landmarks.points, yaw=yaw))
        out = reenactor.render(src.state, target)
        det = create_detector("mediapipe", "image")
        faces = det.detect(out)
        det.close()
        assert faces, "no face detected on the warped output"
        measured = head_pose(faces[0].points).yaw - head_pose(src.crop_landmarks.points).yaw
        assert measured == pytest.approx(yaw, abs=6)

    def test_opened_mouth_reads_as_open_and_is_dark_inside(self, prepared):
        reenactor, src = prepared
        target_pts = posed(src.crop_landmarks.points, mouth=14)
        out = reenactor.render(src.state, src.crop_landmarks.with_points(target_pts))
        det = create_detector("mediapipe", "image")
        faces = det.detect(out)
        det.close()
        before = expression_vector(src.crop_landmarks.points)[0]
        assert expression_vector(faces[0].points)[0] > before + 0.1
        # the lower half of the new opening is cavity, darker than the lips around it
        cx, cy = target_pts[[66, 57], :2].mean(0).astype(int)
        inside = out[int(target_pts[66, 1]) - 3, int(target_pts[66, 0])].astype(int).sum()
        lips = out[int(target_pts[57, 1]), int(target_pts[57, 0])].astype(int).sum()
        assert inside < lips


def test_lip_curve_passes_through_the_landmarks_and_bends_smoothly():
    """The Catmull-Rom lip line meets every landmark and has no corner at the middle one."""
    from streamer.reenactors.geometric import lip_curve

    points = np.array([[0.0, 0.0], [10.0, -4.0], [20.0, -5.0], [30.0, -4.0], [40.0, 0.0]])
    curve = lip_curve(points, samples=6)
    assert np.allclose(curve[::6], points)
    steps = np.diff(curve, axis=0)
    angles = np.degrees(np.arctan2(steps[:, 1], steps[:, 0]))
    assert np.abs(np.diff(angles)).max() < 8  # the polyline bends 21.8 degrees at points 1 and 3


def test_drawn_teeth_shade_into_the_mouth_corners_and_the_tongue_lifts_the_cavity(prepared):
    """With a closed-mouth source (the astronaut's smile taken as closed, so the interior is drawn rather
    than her own teeth moved), an opened target mouth gets upper teeth brighter in the middle than near
    the corners, and a cavity whose lower middle (the tongue) is lighter than its upper middle under the
    teeth, both still far darker than the teeth."""
    from dataclasses import replace

    reenactor, src = prepared
    closed = replace(src.state, mouth_is_open=False)
    target_pts = posed(src.crop_landmarks.points, mouth=16)
    out = reenactor.render(closed, src.crop_landmarks.with_points(target_pts)).astype(np.float64)
    grey = out.mean(axis=2)
    left, right, top, bottom = target_pts[60, :2], target_pts[64, :2], target_pts[62, :2], target_pts[66, :2]
    iod = np.linalg.norm(target_pts[36:42, :2].mean(0) - target_pts[42:48, :2].mean(0))
    teeth_y = top[1] + 0.03 * iod  # inside the teeth band under the upper lip

    def at(x: float, y: float) -> float:
        return float(grey[int(round(y)), int(round(x))])

    middle = max(at(top[0] + dx, teeth_y) for dx in (-1, 0, 1))  # the midline gap may be under one pixel
    corner = at(left[0] + 0.08 * (right[0] - left[0]), teeth_y + 0.25 * (left[1] - top[1]))
    assert middle > corner + 40
    tongue = at(bottom[0], bottom[1] - 0.15 * (bottom[1] - top[1]))
    under_teeth = at(top[0], top[1] + 0.45 * (bottom[1] - top[1]))
    assert under_teeth < tongue < middle - 60
