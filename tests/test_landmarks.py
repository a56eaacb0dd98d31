import numpy as np
import pytest

from streamer import landmarks as L
from streamer.detectors.mediapipe_mesh import MESH_TO_IBUG68
from streamer.landmarks import FaceLandmarks


class TestFaceLandmarks:
    def test_rejects_wrong_shapes(self):
        with pytest.raises(ValueError, match=r"\(68, 3\)"):
            FaceLandmarks(np.zeros((68, 2)))
        with pytest.raises(ValueError, match="visibility"):
            FaceLandmarks(np.zeros((68, 3)), visibility=np.ones(67))

    def test_box_follows_points(self):
        pts = np.zeros((68, 3), np.float32)
        pts[:, 0] = np.arange(68)
        pts[:, 1] = 2 * np.arange(68)
        face = FaceLandmarks(pts)
        np.testing.assert_allclose(face.box, [0, 0, 67, 134])

    def test_transformed_scales_depth(self):
        pts = np.random.default_rng(0).normal(size=(68, 3)).astype(np.float32)
        affine = np.array([[0, -2, 5], [2, 0, -3]], np.float64)  # rotate 90, scale 2, shift
        out = FaceLandmarks(pts).transformed(affine)
        np.testing.assert_allclose(out.xy, pts[:, :2] @ affine[:, :2].T + affine[:, 2], atol=1e-5)
        np.testing.assert_allclose(out.points[:, 2], pts[:, 2] * 2, atol=1e-5)


class TestMeshMapping:
    def test_table_is_68_distinct_vertices(self):
        assert MESH_TO_IBUG68.shape == (68,)
        assert len(set(MESH_TO_IBUG68.tolist())) == 68
        assert MESH_TO_IBUG68.max() < 468

    def test_ibug_order_on_a_real_face(self, astronaut_face):
        p = astronaut_face.xy
        # jaw runs from the subject's right (image left) over the chin to the left
        assert p[0, 0] < p[8, 0] < p[16, 0]
        assert p[8, 1] > p[0, 1] and p[8, 1] > p[16, 1]
        # eyes: 36 outer corner of the image-left eye, 45 outer corner of the other
        assert p[36, 0] < p[39, 0] < p[42, 0] < p[45, 0]
        # brows above eyes above nose tip above mouth above chin
        assert p[L.RIGHT_BROW, 1].mean() < p[L.RIGHT_EYE, 1].mean() < p[30, 1] < p[L.MOUTH, 1].mean() < p[8, 1]
        # mouth corners left/right, upper lip above lower lip
        assert p[48, 0] < p[54, 0] and p[51, 1] < p[57, 1]
        assert astronaut_face.confidence > 0.5
        assert astronaut_face.visibility.mean() > 0.9
