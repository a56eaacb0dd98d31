"""Landmark maps: the generators' binary images of the 68 points with neighbouring points joined.

The DG paper feeds its RFG landmark images (points joined by edges along each facial part); this
draws them with OpenCV (anti-aliasing off, so the map is binary) at the generator's grid size.
"""

from __future__ import annotations

import cv2
import numpy as np

#: (first, last, closed) index runs of the iBUG 68-point layout, drawn as polylines.
PARTS: tuple[tuple[int, int, bool], ...] = (
    (0, 16, False),  # jaw
    (17, 21, False),  # right brow
    (22, 26, False),  # left brow
    (27, 30, False),  # nose bridge
    (31, 35, False),  # nose base
    (36, 41, True),  # right eye
    (42, 47, True),  # left eye
    (48, 59, True),  # outer lips
    (60, 67, True),  # inner lips
)


def landmark_map(points: np.ndarray, crop_size: int, map_size: int) -> np.ndarray:
    """(map_size, map_size) float32 map in {0, 1} of ``points`` ((68, >=2) crop pixels of a ``crop_size`` crop)."""
    canvas = np.zeros((map_size, map_size), np.uint8)
    scale = map_size / crop_size
    # Sub-pixel drawing (shift=4) keeps small motions visible in the coarse map.
    xy = np.round((np.asarray(points, np.float64)[:, :2] + 0.5) * scale * 16 - 8).astype(np.int32)
    for first, last, closed in PARTS:
        cv2.polylines(canvas, [xy[first : last + 1]], closed, 1, thickness=1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(np.float32)
