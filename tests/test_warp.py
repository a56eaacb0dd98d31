import cv2
import numpy as np
from scipy.spatial import Delaunay

from streamer.warp import piecewise_affine_map, signed_areas, triangle_affines


def grid_points(size: int, n: int = 6) -> np.ndarray:
    t = np.linspace(0, size - 1, n)
    xs, ys = np.meshgrid(t, t)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


class TestTriangleAffines:
    def test_maps_destination_vertices_onto_source(self):
        rng = np.random.default_rng(0)
        src = rng.uniform(0, 100, (10, 2))
        dst = rng.uniform(0, 100, (10, 2))
        tris = Delaunay(dst).simplices
        aff = triangle_affines(dst, src, tris)
        for t, a in zip(tris, aff, strict=True):
            mapped = dst[t] @ a[:, :2].T + a[:, 2]
            np.testing.assert_allclose(mapped, src[t], atol=1e-6)


class TestPiecewiseAffineMap:
    def test_identity(self):
        pts = grid_points(64)
        tris = Delaunay(pts).simplices
        mx, my, covered = piecewise_affine_map(pts, pts, tris, (64, 64))
        ys, xs = np.mgrid[0:64, 0:64]
        assert covered.mean() > 0.97
        assert np.abs(mx[covered] - xs[covered]).max() < 1e-3
        assert np.abs(my[covered] - ys[covered]).max() < 1e-3

    def test_global_affine_matches_opencv(self):
        # one affine moving every control point: the dense warp must equal cv2.warpAffine
        size = 96
        src = grid_points(size)
        m = np.array([[0.9, -0.15, 12.0], [0.12, 1.05, -6.0]])
        dst = src @ m[:, :2].T + m[:, 2]
        tris = Delaunay(src).simplices
        mx, my, covered = piecewise_affine_map(src, dst, tris, (size, size))
        image = cv2.GaussianBlur(np.random.default_rng(3).uniform(0, 255, (size, size, 3)).astype(np.uint8), (7, 7), 2)
        ours = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ref = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        inner = cv2.erode(covered.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert inner.sum() > 3000
        assert np.abs(ours[inner].astype(int) - ref[inner].astype(int)).max() <= 2

    def test_near_triangles_are_drawn_over_far_ones(self):
        src = np.array([[0, 0], [60, 0], [0, 60], [20, 20], [60, 20], [20, 60.0]])
        tris = np.array([[0, 1, 2], [3, 4, 5]])  # two triangles overlapping around (25, 25)
        depth_far_first = np.array([1.0, 0.0])  # triangle 1 is nearer
        # tell the triangles apart by shifting triangle 1's source far away
        src2 = src.copy()
        src2[3:] += 100
        mx, _, _ = piecewise_affine_map(src2, src, tris, (64, 64), depth_far_first)
        assert mx[25, 25] > 100
        mx, _, _ = piecewise_affine_map(src2, src, tris, (64, 64), np.array([0.0, 1.0]))
        assert mx[25, 25] < 100

    def test_skip_leaves_pixels_uncovered(self):
        pts = grid_points(32, 3)
        tris = Delaunay(pts).simplices
        skip = np.zeros(len(tris), bool)
        skip[0] = True
        _, _, covered = piecewise_affine_map(pts, pts, tris, (32, 32), skip=skip)
        assert 0.6 < covered.mean() < 0.95


def test_signed_area_orientation():
    tri = np.array([[0, 1, 2]])
    assert signed_areas(np.array([[0, 0], [1, 0], [0, 1.0]]), tri)[0] > 0
    assert signed_areas(np.array([[0, 0], [0, 1], [1, 0.0]]), tri)[0] < 0
