"""Piecewise-affine dense warps over a fixed triangulation (backward maps for ``cv2.remap``).

Written by hand: OpenCV has no piecewise-affine warp, and scikit-image's ``PiecewiseAffineTransform``
searches triangles per pixel (tens of ms at 256x256). Here each target triangle is rasterised once
with its index, far triangles first (painter's algorithm, so a turned face covers its hidden side),
and each pixel's source position is that triangle's affine applied to the pixel centre.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

_NO_TRIANGLE = np.iinfo(np.uint16).max


def triangle_affines(dst_xy: np.ndarray, src_xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T, 2, 3) affines taking each destination triangle onto its source triangle.

    Closed form per triangle (edge matrices and a 2x2 inverse), vectorised over triangles; degenerate
    destination triangles get an all-zero affine (they cover no pixel anyway).
    """
    d = dst_xy[triangles].astype(np.float64)  # (T, 3, 2)
    s = src_xy[triangles].astype(np.float64)
    de = d[:, 1:] - d[:, :1]  # (T, 2, 2): rows are edge vectors
    se = s[:, 1:] - s[:, :1]
    det = de[:, 0, 0] * de[:, 1, 1] - de[:, 0, 1] * de[:, 1, 0]
    ok = np.abs(det) > 1e-9
    inv = np.zeros_like(de)
    inv[:, 0, 0], inv[:, 0, 1] = de[:, 1, 1], -de[:, 0, 1]
    inv[:, 1, 0], inv[:, 1, 1] = -de[:, 1, 0], de[:, 0, 0]
    inv[ok] /= det[ok, None, None]
    lin = np.einsum("tji,tkj->tik", se, inv)  # L = E_s @ inv(E_d), edges as columns
    out = np.zeros((len(triangles), 2, 3))
    out[:, :, :2] = lin
    out[:, :, 2] = s[:, 0] - np.einsum("tij,tj->ti", lin, d[:, 0])
    out[~ok] = 0.0
    return out


def signed_areas(xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice the signed area of each triangle (positive: counter-clockwise in y-down images)."""
    a, b, c = (xy[triangles[:, k]] for k in range(3))
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def rasterize_triangles(
    dst_xy: np.ndarray, triangles: np.ndarray, order: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """(H, W) uint16 map of triangle indices, drawn in ``order`` (later ones on top); 65535 = none."""
    h, w = size
    ids = np.full((h, w), _NO_TRIANGLE, np.uint16)
    # Fixed-point vertices (4 fractional bits) keep sub-pixel placement, so shared edges do not crack.
    shift = 4
    verts = np.round(dst_xy * (1 << shift)).astype(np.int32)
    for t in order:
        cv2.fillConvexPoly(ids, verts[triangles[t]], int(t), lineType=cv2.LINE_8, shift=shift)
    return ids


@functools.lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def backward_map(ids: np.ndarray, affines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel source coordinates (map_x, map_y) and a coverage mask from triangle ids.

    One gather from a table whose extra last row maps every uncovered pixel to (-1, -1): ``np.take``
    with ``mode="clip"`` sends the "no triangle" id (65535) to that row, with no boolean masking.
    """
    h, w = ids.shape
    n = len(affines)
    table = np.zeros((n + 1, 6), np.float32)
    table[:n] = affines.reshape(n, 6)
    table[n] = (0.0, 0.0, -1.0, 0.0, 0.0, -1.0)
    coef = np.take(table, ids, axis=0, mode="clip")
    xs, ys = _pixel_grid(h, w)
    map_x = coef[..., 0] * xs + coef[..., 1] * ys + coef[..., 2]
    map_y = coef[..., 3] * xs + coef[..., 4] * ys + coef[..., 5]
    return map_x, map_y, ids != _NO_TRIANGLE


def piecewise_affine_map(
    src_xy: np.ndarray,
    dst_xy: np.ndarray,
    triangles: np.ndarray,
    size: tuple[int, int],
    depth: np.ndarray | None = None,
    skip: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward map for warping an image whose landmarks ``src_xy`` move to ``dst_xy``.

    ``depth`` (per triangle, larger = farther) orders drawing far to near; ``skip`` marks triangles
    not to draw (e.g. back-facing ones). Returns (map_x, map_y, covered mask).
    """
    affines = triangle_affines(dst_xy, src_xy, triangles)
    order = np.arange(len(triangles)) if depth is None else np.argsort(-depth, kind="stable")
    if skip is not None:
        order = order[~skip[order]]
    ids = rasterize_triangles(dst_xy, triangles, order, size)
    return backward_map(ids, affines)
