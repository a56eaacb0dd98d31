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
