"""Numpy pre-processing shared by RFG training and inference: images, pixel maps, landmark maps."""

from __future__ import annotations

import numpy as np

from streamer.models.landmark_map import landmark_map


def image_to_input(bgr: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1] (channel order kept)."""
    return np.ascontiguousarray(bgr.transpose(2, 0, 1), np.float32) * (2.0 / 255.0) - 1.0


def output_to_image(chw: np.ndarray) -> np.ndarray:
    """(3, H, W) float in [-1, 1] -> (H, W, 3) uint8."""
    return np.clip((np.asarray(chw).transpose(1, 2, 0) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def pixel_map(map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """(H, W) maps -> (H, W, 2) float32 (x, y) pixel coordinates."""
    return np.ascontiguousarray(np.stack([map_x, map_y], axis=-1), np.float32)


def identity_pixel_map(size: int) -> np.ndarray:
    """(size, size, 2) map that leaves an image unchanged."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return np.ascontiguousarray(np.stack([xs, ys], axis=-1))


def landmark_input(points: np.ndarray, crop_size: int) -> np.ndarray:
    """(1, S/4, S/4) float32 landmark map of crop-pixel ``points``."""
    return landmark_map(points, crop_size, crop_size // 4)[None]


def revealed_input(revealed: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """(1, S, S) float32 in [0, 1]: what the photo cannot show at the target pose, from a mesh warp's
    masks (``streamer.mesh_warp.MeshWarp``): drawn from texture the source hides (``revealed``) or not
    drawn at all (not ``covered``, filled from a neighbour)."""
    hidden = (np.asarray(revealed) > 0) | (np.asarray(covered) == 0)
    return np.ascontiguousarray(hidden[None], np.float32)
