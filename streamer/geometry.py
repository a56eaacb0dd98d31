"""Small pure geometry helpers shared by alignment, pose and retargeting."""

from __future__ import annotations

import numpy as np

from kernels.affine import invert_affine  # noqa: F401 - defined beside the kernels, which import no runtime


def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ~ s * R @ src + t`` for (N, D) point sets (Umeyama 1991).

    Returns ``(s, R, t)`` with ``R`` a proper rotation (det +1). Written by hand because OpenCV only
    offers the 2D case (``estimateAffinePartial2D``) and we need 3D as well.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2:
        raise ValueError(f"umeyama needs two (N, D) arrays of one shape, got {src.shape} and {dst.shape}")
    dim = src.shape[1]
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(dim)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    var_s = (xs**2).sum() / len(src)
    scale = float((sig * d).sum() / var_s) if with_scale and var_s > 0 else 1.0
    trans = mu_d - scale * rot @ mu_s
    return scale, rot, trans


def similarity_matrix(scale: float, rot: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """2x3 matrix of a 2D similarity."""
    return np.concatenate([scale * rot, trans[:, None]], axis=1)


def apply_affine(affine: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (N, 2) points."""
    a = np.asarray(affine, np.float64)
    return np.asarray(xy, np.float64) @ a[:, :2].T + a[:, 2]


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation (degrees) in our camera frame (x right, y down, z away), composed as Ry @ Rx @ Rz.

    Matches ``head_pose``: a positive yaw turns the face toward image right, a positive pitch lifts
    the chin, a positive roll tilts the head clockwise in the image.
    """
    y, p, r = np.radians([-yaw, -pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz
