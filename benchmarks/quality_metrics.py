"""Pure metric functions of the reenactment quality benchmark (``benchmarks.reenact_quality``).

Convention: images are ``(H, W, 3)`` BGR uint8 (or float) arrays in grey levels 0..255; masks are
``(H, W)`` bool; 2x3 affines map one frame's pixel coordinates to another's with pixel centres at
integers (OpenCV's ``warpAffine`` convention, as in ``streamer.alignment``); landmarks are ``(68, 2+)``
pixel coordinates in the iBUG order. Nothing here reads files or keeps state.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from streamer.geometry import apply_affine, invert_affine
from streamer.landmarks import interocular

#: Share of each training-identity video (its last frames, by frame index) held out from training and
#: scored here. The trainer imports this and :func:`heldout_tail` so both sides cut the same frames.
TAIL_FRACTION = 0.2

#: SSIM constants of Wang et al. 2004 (and scikit-image's ``gaussian_weights=True`` preset).
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def heldout_tail(n_frames: int, fraction: float = TAIL_FRACTION) -> slice:
    """The held-out frames of a training-identity video with ``n_frames`` kept frames: its last ``fraction``.

    At least one frame is held out of any non-empty video (``ceil``); the training frames are
    ``range(heldout_tail(n).start)``.
    """
    if n_frames < 0 or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"need n_frames >= 0 and 0 <= fraction <= 1, got {n_frames}, {fraction}")
    count = min(n_frames, math.ceil(fraction * n_frames - 1e-9))
    return slice(n_frames - count, n_frames)


# --- geometry -------------------------------------------------------------------------------------


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine of ``x -> outer(inner(x))``."""
    a = np.asarray(outer, np.float64)
    b = np.asarray(inner, np.float64)
    return np.concatenate([a[:, :2] @ b[:, :2], a[:, :2] @ b[:, 2:3] + a[:, 2:3]], axis=1)


def target_to_source(source_affine: np.ndarray, target_affine: np.ndarray) -> np.ndarray:
    """Crop t -> crop s: ``A_s . A_t^-1`` for image -> crop affines ``A_s`` (source) and ``A_t`` (target)."""
    return compose_affine(source_affine, invert_affine(target_affine))


def valid_mask(affine: np.ndarray, size: tuple[int, int], input_size: tuple[int, int], eps: float = 1e-6) -> np.ndarray:
    """Pixels of ``warpAffine(input, affine, size)`` that bilinear sampling takes from inside the input.

    ``size`` and ``input_size`` are ``(width, height)``. A pixel is valid when ``affine^-1`` maps it into
    ``[0, w-1] x [0, h-1]`` of the input, so no border value enters it.
    """
    w, h = size
    inv = invert_affine(affine)
    ys, xs = np.mgrid[0:h, 0:w]
    q = apply_affine(inv, np.stack([xs.ravel(), ys.ravel()], axis=1)).reshape(h, w, 2)
    iw, ih = input_size
    return (q[..., 0] >= -eps) & (q[..., 0] <= iw - 1 + eps) & (q[..., 1] >= -eps) & (q[..., 1] <= ih - 1 + eps)


def warp_target(target_crop: np.ndarray, affine: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Target crop moved into the output's (source crop's) coordinates, and where that is real content.

    ``affine`` maps target-crop pixels to output pixels (:func:`target_to_source`); bilinear, outside
    pixels black and flagged invalid. The target crop's own replicated edges (parts of the crop beyond
    the video frame) are not caught here: AND the result with :func:`valid_mask` of the source crop's
    image -> crop affine and the frame size.
    """
    crop_h, crop_w = target_crop.shape[:2]
    out = cv2.warpAffine(
        target_crop,
        np.asarray(affine, np.float64),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return out, valid_mask(affine, (size, size), (crop_w, crop_h))


def face_mask(points: np.ndarray, size: int | tuple[int, int], dilation: float = 0.1) -> np.ndarray:
    """Convex hull of the landmarks, dilated by ``dilation`` interocular distances, as a mask.

    ``size``: the side of a square image, or its ``(height, width)``.
    """
    xy = np.asarray(points, np.float64)[:, :2]
    mask = np.zeros((size, size) if isinstance(size, int) else tuple(size), np.uint8)
    hull = cv2.convexHull(np.round(xy).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    radius = int(round(dilation * interocular(xy)))
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.dilate(mask, kernel)
    return mask.astype(bool)


# --- pixels ---------------------------------------------------------------------------------------


def _check_pair(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images must have one shape, got {a.shape} and {b.shape}")
    if mask is not None and mask.shape != a.shape[:2]:
        raise ValueError(f"mask must be {a.shape[:2]}, got {mask.shape}")


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, data_range: float = 255.0) -> float:
    """PSNR (dB) over the masked pixels, all channels: ``10 log10(range^2 / MSE)``; inf when equal, NaN when empty."""
    _check_pair(a, b, mask)
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    sq = diff**2 if diff.ndim == 2 else (diff**2).mean(axis=2)
    values = sq if mask is None else sq[mask]
    if values.size == 0:
        return float("nan")
    mse = float(values.mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def gaussian_kernel(sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE) -> np.ndarray:
    """Normalised 1-D Gaussian of radius ``int(truncate * sigma + 0.5)`` (``scipy.ndimage``'s rule)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return cv2.sepFilter2D(x, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def ssim_map(
    a: np.ndarray, b: np.ndarray, data_range: float = 255.0, sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE
) -> np.ndarray:
    """Per-pixel SSIM (Gaussian window, population covariances), averaged over channels: (H, W) float64.

    Values within the window radius of the image border see reflected pixels; :func:`ssim` leaves them
    out, as scikit-image's mean does.
    """
    _check_pair(a, b, None)
    x = np.asarray(a, np.float64)
    y = np.asarray(b, np.float64)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    k = gaussian_kernel(sigma, truncate)
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    maps = []
    for ch in range(x.shape[2]):
        xc, yc = np.ascontiguousarray(x[..., ch]), np.ascontiguousarray(y[..., ch])
        mx, my = _blur(xc, k), _blur(yc, k)
        sxx = _blur(xc * xc, k) - mx * mx
        syy = _blur(yc * yc, k) - my * my
        sxy = _blur(xc * yc, k) - mx * my
        maps.append(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2)))
    return np.mean(maps, axis=0)


def window_support(mask: np.ndarray | None, shape: tuple[int, int], radius: int) -> np.ndarray:
    """Pixels whose whole ``(2 radius + 1)``-square window lies in ``mask`` and inside the image."""
    base = np.ones(shape, np.uint8) if mask is None else mask.astype(np.uint8)
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.erode(base, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def ssim(
    a: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None = None,
    data_range: float = 255.0,
    sigma: float = SSIM_SIGMA,
    truncate: float = SSIM_TRUNCATE,
) -> float:
    """Mean SSIM over the pixels whose window lies wholly inside ``mask`` (the image when None); NaN if none.

    Without a mask this is scikit-image's ``structural_similarity(a, b, data_range=..., channel_axis=2,
    gaussian_weights=True, use_sample_covariance=False)``.
    """
    _check_pair(a, b, mask)
    radius = int(truncate * sigma + 0.5)
    support = window_support(mask, a.shape[:2], radius)
    if not support.any():
        return float("nan")
    return float(ssim_map(a, b, data_range, sigma, truncate)[support].mean())


def masked_scores(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(:func:`psnr`, :func:`ssim`) over ``mask``, computed in the mask's bounding box (same values, less work).

    The box is grown by the SSIM window radius, so every window of a supported pixel lies inside it, as
    it does in the whole image; (NaN, NaN) for an empty mask.
    """
    _check_pair(a, b, mask)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return float("nan"), float("nan")
    r = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    h, w = mask.shape
    box = (slice(max(0, ys.min() - r), min(h, ys.max() + r + 1)), slice(max(0, xs.min() - r), min(w, xs.max() + r + 1)))
    return psnr(a[box], b[box], mask[box]), ssim(a[box], b[box], mask[box])


def mean_abs_difference(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute difference (grey levels) over the masked pixels and all channels; NaN when empty."""
    _check_pair(a, b, mask)
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    diff = diff if diff.ndim == 2 else diff.mean(axis=2)
    values = diff if mask is None else diff[mask]
    return float(values.mean()) if values.size else float("nan")


# --- identity, motion ------------------------------------------------------------------------------


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two embedding vectors."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def angle_difference(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """``|a - b|`` in degrees, wrapped into [0, 180]."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64) + 180.0) % 360.0 - 180.0
    return np.abs(d)


def landmark_distance(points: np.ndarray, reference: np.ndarray) -> float:
    """Mean point distance (xy) between two 68-point sets, in interocular distances of ``reference``."""
    p = np.asarray(points, np.float64)[:, :2]
    r = np.asarray(reference, np.float64)[:, :2]
    if p.shape != r.shape:
        raise ValueError(f"landmark sets must have one shape, got {p.shape} and {r.shape}")
    return float(np.linalg.norm(p - r, axis=1).mean() / max(interocular(r), 1e-9))


# --- frame selection --------------------------------------------------------------------------------


def most_frontal(pose: np.ndarray, candidates: range | np.ndarray) -> int:
    """The candidate frame with the smallest ``hypot(yaw, pitch)`` (``pose`` rows: yaw, pitch, roll degrees)."""
    idx = np.asarray(list(candidates) if isinstance(candidates, range) else candidates, np.int64)
    if idx.size == 0:
        raise ValueError("no candidate frame")
    p = np.asarray(pose, np.float64)[idx]
    return int(idx[np.argmin(np.hypot(p[:, 0], p[:, 1]))])


def landmark_motion(points: np.ndarray) -> np.ndarray:
    """(T,) motion into each frame: mean point displacement from the previous frame / its interocular distance.

    ``points`` is (T, 68, 2+); entry 0 has no previous frame and is ``inf``.
    """
    p = np.asarray(points, np.float64)[:, :, :2]
    out = np.full(len(p), np.inf)
    if len(p) > 1:
        iod = np.array([interocular(q) for q in p[1:]])
        out[1:] = np.linalg.norm(np.diff(p, axis=0), axis=2).mean(axis=1) / np.maximum(iod, 1e-9)
    return out


def stationary_stretches(motion: np.ndarray, threshold: float, min_frames: int = 5) -> list[tuple[int, int]]:
    """``[start, stop)`` frame ranges of at least ``min_frames`` frames in which every step moved below ``threshold``.

    ``motion[t]`` is the motion from frame t-1 to t (:func:`landmark_motion`); a stretch ``[a, b)`` has
    ``motion[a+1 .. b-1] < threshold``.
    """
    still = np.asarray(motion) < threshold
    stretches = []
    t, n = 1, len(still)
    while t < n:
        if not still[t]:
            t += 1
            continue
        start = t
        while t < n and still[t]:
            t += 1
        if t - start + 1 >= min_frames:
            stretches.append((start - 1, t))
    return stretches


def top_fraction_mask(values: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Entries at or above the ``1 - fraction`` quantile (the top decile by default); NaNs never chosen."""
    v = np.asarray(values, np.float64)
    out = np.zeros(v.shape, bool)
    ok = np.isfinite(v)
    if ok.any():
        out[ok] = v[ok] >= np.quantile(v[ok], 1.0 - fraction)
    return out
