"""The quality benchmark's pure metrics against references: scikit-image (when installed), direct slow
formulas written here, and OpenCV for the warps. Each reference records the call that produced it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from benchmarks import quality_metrics as Q
from streamer.alignment import crop_image
from streamer.geometry import apply_affine, invert_affine

#: Tolerances per dtype of the compared computation (our float64 vs a float64 reference).
TOL = {np.float64: 1e-9, np.uint8: 0}


def _images(shape=(40, 56, 3), seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth-ish image and a noisy, shifted copy (uint8): asymmetric, non-square."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    base = 120 + 60 * np.sin(x / 5.0)[..., None] * np.cos(y / 7.0)[..., None] + rng.normal(0, 10, shape)
    other = np.roll(base, 2, axis=1) * 0.9 + rng.normal(0, 15, shape) + 8
    return np.clip(base, 0, 255).astype(np.uint8), np.clip(other, 0, 255).astype(np.uint8)


def _smooth_image(w=320, h=240) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(x / 23.0), 128 + 100 * np.cos(y / 17.0), 128 + 80 * np.sin((x + y) / 31.0)], -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _similarity(scale: float, angle_deg: float, tx: float, ty: float) -> np.ndarray:
    a = np.radians(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


class TestHeldoutTail:
    def test_values(self):
        assert Q.TAIL_FRACTION == 0.2
        assert Q.heldout_tail(10) == slice(8, 10)
        assert Q.heldout_tail(11) == slice(8, 11)  # ceil(2.2) = 3 frames
        assert Q.heldout_tail(1) == slice(0, 1)
        assert Q.heldout_tail(0) == slice(0, 0)
        assert Q.heldout_tail(100, 0.5) == slice(50, 100)

    def test_train_and_tail_partition(self):
        for n in range(0, 60):
            tail = range(n)[Q.heldout_tail(n)]
            train = range(Q.heldout_tail(n).start)
            assert len(tail) + len(train) == n and (not tail or tail[-1] == n - 1)
            assert len(tail) == math.ceil(0.2 * n - 1e-9)

    def test_bad_input(self):
        with pytest.raises(ValueError):
            Q.heldout_tail(-1)
        with pytest.raises(ValueError):
            Q.heldout_tail(5, 1.5)


class TestGeometry:
    def test_compose_matches_sequential_application(self):
        a, b = _similarity(1.3, 20, 5, -3), _similarity(0.7, -50, 11, 2)
        pts = np.random.default_rng(1).uniform(-50, 50, (20, 2))
        np.testing.assert_allclose(
            apply_affine(Q.compose_affine(a, b), pts), apply_affine(a, apply_affine(b, pts)), atol=1e-10
        )

    def test_target_to_source_maps_target_crop_onto_source_crop(self):
        # Asymmetric: A_s and A_t differ in scale, rotation and shift; an image point's target-crop
        # position must land on its source-crop position (crop t -> image -> crop s).
        a_s, a_t = _similarity(1.2, 10, -40, 15), _similarity(0.8, -25, 30, 60)
        image_pts = np.random.default_rng(2).uniform(0, 300, (30, 2))
        m = Q.target_to_source(a_s, a_t)
        np.testing.assert_allclose(apply_affine(m, apply_affine(a_t, image_pts)), apply_affine(a_s, image_pts))

    def test_warp_target_reproduces_source_crop(self):
        # Reference: the source crop cut straight from the image, crop_image(image, A_s, 128).
        image = _smooth_image()
        a_s, a_t = _similarity(0.9, 8, -20, -10), _similarity(1.1, -12, -60, 20)
        crop_s, crop_t = crop_image(image, a_s, 128), crop_image(image, a_t, 128)
        gt, valid = Q.warp_target(crop_t, Q.target_to_source(a_s, a_t), 128)
        inside = Q.valid_mask(a_s, (128, 128), (image.shape[1], image.shape[0]))
        ok = valid & inside
        assert 0.3 < ok.mean() < 0.99  # both kinds of pixel present
        err = np.abs(gt.astype(float) - crop_s.astype(float)).mean(axis=2)
        assert err[ok].mean() < 2.0  # two bilinear resamplings of a smooth image
        near = cv2.dilate(valid.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert (gt[~near] == 0).all()  # bilinear blends the border value in within one pixel of the edge

    def test_valid_mask_matches_opencv_warp_of_ones(self):
        # Reference: cv2.warpAffine(ones, M, (90, 70), INTER_LINEAR, BORDER_CONSTANT 0).
        m = _similarity(1.4, 17, -12, -5)
        src = np.ones((50, 60), np.float32)
        warped = cv2.warpAffine(src, m, (90, 70), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        ours = Q.valid_mask(m, (90, 70), (60, 50))
        inv = invert_affine(m)
        ys, xs = np.mgrid[0:70, 0:90]
        q = apply_affine(inv, np.stack([xs.ravel(), ys.ravel()], 1)).reshape(70, 90, 2)
        dist = np.minimum.reduce([np.abs(q[..., 0]), np.abs(q[..., 0] - 59), np.abs(q[..., 1]), np.abs(q[..., 1] - 49)])
        clear = dist > 1 / 16  # OpenCV's fixed-point coordinates blur the exact edge by 1/32 px
        assert ours[clear].any() and (~ours[clear]).any()
        np.testing.assert_array_equal(ours[clear], warped[clear] > 0.999)

    def test_face_mask(self):
        rng = np.random.default_rng(3)
        pts = np.concatenate([rng.uniform(90, 160, (68, 2)), np.zeros((68, 1))], axis=1)
        pts[36:42, :2] = [100, 110]
        pts[42:48, :2] = [150, 110]  # interocular 50 px
        tight = Q.face_mask(pts, 256, dilation=0.0)
        loose = Q.face_mask(pts, 256, dilation=0.1)
        assert tight.shape == (256, 256) and tight.dtype == bool
        ij = np.round(pts[:, :2]).astype(int)
        assert tight[ij[:, 1], ij[:, 0]].all()
        assert loose.sum() > tight.sum() and (loose | tight).sum() == loose.sum()
        assert not tight[5, 5] and not loose[5, 5]

    def test_face_mask_of_a_wide_frame(self):
        pts = np.array([[x, y] for x in (100.0, 140.0) for y in (20.0, 60.0)] * 17)  # 68 points
        pts[36:42], pts[42:48] = (105, 30), (135, 30)
        mask = Q.face_mask(pts, (80, 300), dilation=0.0)
        assert mask.shape == (80, 300)
        assert mask[40, 120] and not mask[40, 200] and not mask[40, 60]


class TestPSNR:
    def test_against_skimage(self):
        skm = pytest.importorskip("skimage.metrics")
        a, b = _images()
        # Reference: skimage.metrics.peak_signal_noise_ratio(a, b, data_range=255).
        ref = skm.peak_signal_noise_ratio(a, b, data_range=255)
        assert Q.psnr(a, b) == pytest.approx(ref, abs=TOL[np.float64])

    def test_masked_equals_direct_formula(self):
        a, b = _images(seed=4)
        mask = np.zeros(a.shape[:2], bool)
        mask[5:20, 30:50] = True
        mse = np.mean((a[mask].astype(float) - b[mask].astype(float)) ** 2)
        assert Q.psnr(a, b, mask) == pytest.approx(10 * np.log10(255**2 / mse), abs=TOL[np.float64])
        # Pixels outside the mask do not count.
        c = b.copy()
        c[~mask] = 0
        assert Q.psnr(a, c, mask) == Q.psnr(a, b, mask)

    def test_edge_cases(self):
        a, b = _images()
        assert Q.psnr(a, a) == math.inf
        assert math.isnan(Q.psnr(a, b, np.zeros(a.shape[:2], bool)))
        with pytest.raises(ValueError):
            Q.psnr(a, b[:-1])
        with pytest.raises(ValueError):
            Q.psnr(a, b, np.ones((3, 3), bool))


def _ssim_direct(x: np.ndarray, y: np.ndarray, i: int, j: int, k: np.ndarray, data_range=255.0) -> float:
    """SSIM of one pixel written out from Wang et al. 2004 (population statistics, Gaussian weights)."""
    r = len(k) // 2
    w = np.outer(k, k)
    px = x[i - r : i + r + 1, j - r : j + r + 1].astype(np.float64)
    py = y[i - r : i + r + 1, j - r : j + r + 1].astype(np.float64)
    mx, my = (w * px).sum(), (w * py).sum()
    vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
    cxy = (w * (px - mx) * (py - my)).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


class TestSSIM:
    def test_kernel(self):
        k = Q.gaussian_kernel()
        assert len(k) == 11 and k.sum() == pytest.approx(1.0) and np.argmax(k) == 5
        np.testing.assert_allclose(k, k[::-1])

    def test_map_against_direct_formula(self):
        a, b = _images(seed=5)
        k = Q.gaussian_kernel()
        smap = Q.ssim_map(a[..., 0], b[..., 0])
        for i, j in [(5, 5), (20, 31), (34, 50), (12, 7)]:
            assert smap[i, j] == pytest.approx(_ssim_direct(a[..., 0], b[..., 0], i, j, k), abs=1e-9)
        colour = Q.ssim_map(a, b)
        direct = np.mean([_ssim_direct(a[..., c], b[..., c], 20, 31, k) for c in range(3)])
        assert colour[20, 31] == pytest.approx(direct, abs=1e-9)

    @pytest.mark.parametrize("channels", [None, 3])
    def test_against_skimage(self, channels):
        skm = pytest.importorskip("skimage.metrics")
        a, b = _images(seed=6)
        if channels is None:
            a, b = a[..., 1], b[..., 1]
        kwargs = dict(data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        # Reference: skimage.metrics.structural_similarity(a, b, channel_axis=2 or None, **kwargs).
        ref = skm.structural_similarity(a, b, channel_axis=2 if channels else None, **kwargs)
        assert Q.ssim(a, b) == pytest.approx(ref, abs=TOL[np.float64])
        # Arguments are not symmetric in their noise, but SSIM is symmetric: swapping changes nothing.
        assert Q.ssim(b, a) == pytest.approx(ref, abs=TOL[np.float64])

    def test_masked_against_skimage_full_map(self):
        skm = pytest.importorskip("skimage.metrics")
        a, b = _images(seed=7)
        mask = np.zeros(a.shape[:2], bool)
        mask[3:35, 10:52] = True
        mask[10:15, 20:25] = False
        # Reference: the mean of skimage's full SSIM map over the pixels whose 11x11 window lies in the mask.
        _, full = skm.structural_similarity(
            a, b, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
            channel_axis=2, full=True,
        )  # fmt: skip
        support = Q.window_support(mask, mask.shape, 5)
        assert support.sum() > 20 and not support[12, 22] and not support[3, 30]
        assert Q.ssim(a, b, mask) == pytest.approx(full.mean(axis=2)[support].mean(), abs=TOL[np.float64])

    @pytest.mark.parametrize("box", [(slice(12, 30), slice(20, 45)), (slice(0, 16), slice(30, 56))])
    def test_masked_scores_in_the_box_equal_the_whole_image(self, box):
        a, b = _images(shape=(60, 80, 3), seed=8)
        a, b = a[:40, :56], b[:40, :56]  # the second box touches the image's top and right edges
        mask = np.zeros(a.shape[:2], bool)
        mask[box] = True
        psnr, ssim = Q.masked_scores(a, b, mask)
        assert psnr == pytest.approx(Q.psnr(a, b, mask), abs=1e-12)
        assert ssim == pytest.approx(Q.ssim(a, b, mask), abs=1e-12) and not math.isnan(ssim)
        assert all(math.isnan(v) for v in Q.masked_scores(a, b, np.zeros_like(mask)))

    def test_identical_and_empty(self):
        a, _ = _images()
        assert Q.ssim(a, a) == pytest.approx(1.0)
        assert math.isnan(Q.ssim(a, a, np.zeros(a.shape[:2], bool)))

    def test_window_support_border(self):
        support = Q.window_support(None, (20, 30), 5)
        assert support.sum() == (20 - 10) * (30 - 10)
        assert support[5, 5] and not support[4, 5] and not support[5, 25]


class TestIdentityAndMotion:
    def test_cosine(self):
        assert Q.cosine_similarity([1, 0], [0, 2]) == pytest.approx(0.0)
        assert Q.cosine_similarity([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
        assert Q.cosine_similarity([1, 2], [-1, -2]) == pytest.approx(-1.0)

    def test_angle_difference_wraps(self):
        np.testing.assert_allclose(Q.angle_difference([179.0, 10.0, -90.0], [-179.0, 15.0, 90.0]), [2.0, 5.0, 180.0])

    def test_landmark_distance(self):
        ref = np.zeros((68, 3))
        ref[:, 0] = np.arange(68)
        ref[36:42, :2] = [10, 50]
        ref[42:48, :2] = [50, 50]  # interocular 40
        moved = ref.copy()
        moved[:, 0] += 4.0  # every point 4 px right
        assert Q.landmark_distance(moved, ref) == pytest.approx(0.1)
        with pytest.raises(ValueError):
            Q.landmark_distance(moved[:10], ref)

    def test_most_frontal(self):
        pose = np.array([[20, 0, 0], [-3, 4, 0], [1, -1, 9], [0, 0, 0]], float)
        assert Q.most_frontal(pose, range(0, 3)) == 2
        assert Q.most_frontal(pose, range(0, 4)) == 3
        assert Q.most_frontal(pose, np.array([0, 1])) == 1
        with pytest.raises(ValueError):
            Q.most_frontal(pose, range(0))

    def test_landmark_motion_and_stationary_stretches(self):
        base = np.zeros((68, 2))
        base[36:42] = [0, 0]
        base[42:48] = [100, 0]  # interocular 100
        steps = [0, 0.5, 0.5, 0.5, 0.5, 5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 5, 0.5]  # px moved into each frame
        pts = np.stack([base + [x, 0] for x in np.cumsum(steps)])
        motion = Q.landmark_motion(pts)
        assert motion[0] == np.inf
        np.testing.assert_allclose(motion[1:], np.array(steps[1:]) / 100)
        # Frames 0-4 (4 still steps, 5 frames), frames 5-11 (6 steps, 7 frames); 12-13 too short.
        assert Q.stationary_stretches(motion, 0.01, 5) == [(0, 5), (5, 12)]
        assert Q.stationary_stretches(motion, 0.01, 6) == [(5, 12)]
        assert Q.stationary_stretches(motion, 0.001, 2) == []

    def test_top_fraction(self):
        v = np.arange(20, dtype=float)
        v[3] = np.nan
        top = Q.top_fraction_mask(v, 0.1)
        assert top.sum() == 2 and top[-1] and top[-2] and not top[3]
        assert not Q.top_fraction_mask(np.array([np.nan]), 0.1).any()
