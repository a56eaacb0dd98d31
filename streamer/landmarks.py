"""The project's one landmark type: 68 iBUG/FAN-ordered points with depth and visibility.

Convention: ``points[i] = (x, y, z)`` in image pixels; x right, y down, z away from the camera
(smaller z is closer), pixel centres at integer coordinates. Point 0 is the jaw end on the
subject's right (image left for a frontal face), as in iBUG 300-W and FAN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_POINTS = 68

JAW = np.arange(0, 17)
RIGHT_BROW = np.arange(17, 22)
LEFT_BROW = np.arange(22, 27)
NOSE_BRIDGE = np.arange(27, 31)
NOSE_BASE = np.arange(31, 36)
NOSE = np.arange(27, 36)
RIGHT_EYE = np.arange(36, 42)
LEFT_EYE = np.arange(42, 48)
OUTER_LIPS = np.arange(48, 60)
INNER_LIPS = np.arange(60, 68)
MOUTH = np.arange(48, 68)
#: (upper, lower) inner-lip point pairs whose distances make the mouth's opening.
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))

#: Points that move little with expression: used for pose and alignment fits.
RIGID = np.array([0, 1, 15, 16, 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45])

#: Region name -> indices, used by per-region losses and metrics.
REGIONS: dict[str, np.ndarray] = {
    "left_eye": LEFT_EYE,
    "right_eye": RIGHT_EYE,
    "nose": NOSE,
    "mouth": MOUTH,
    "contour": JAW,
}

#: Polylines joining neighbouring points (for landmark maps and debug drawings).
POLYLINES: tuple[tuple[np.ndarray, bool], ...] = (
    (JAW, False),
    (RIGHT_BROW, False),
    (LEFT_BROW, False),
    (NOSE_BRIDGE, False),
    (np.array([30, 31, 32, 33, 34, 35, 30]), False),
    (RIGHT_EYE, True),
    (LEFT_EYE, True),
    (OUTER_LIPS, True),
    (INNER_LIPS, True),
)


@dataclass(frozen=True)
class FaceLandmarks:
    """One face: 68 points (x, y, z px), per-point visibility in [0, 1], box and confidence."""

    points: np.ndarray
    visibility: np.ndarray = field(default_factory=lambda: np.ones(NUM_POINTS, np.float32))
    box: np.ndarray | None = None
    confidence: float = 1.0

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float32)
        if pts.shape != (NUM_POINTS, 3):
            raise ValueError(f"landmark points must have shape (68, 3), got {pts.shape}")
        vis = np.asarray(self.visibility, dtype=np.float32)
        if vis.shape != (NUM_POINTS,):
            raise ValueError(f"visibility must have shape (68,), got {vis.shape}")
        box = bounding_box(pts[:, :2]) if self.box is None else np.asarray(self.box, np.float32)
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "visibility", vis)
        object.__setattr__(self, "box", box)

    @property
    def xy(self) -> np.ndarray:
        """(68, 2) image coordinates."""
        return self.points[:, :2]

    @property
    def size(self) -> float:
        """Face size in pixels: the diagonal of the landmark box."""
        x0, y0, x1, y1 = bounding_box(self.xy)
        return float(np.hypot(x1 - x0, y1 - y0))

    def transformed(self, affine: np.ndarray) -> FaceLandmarks:
        """Apply a 2x3 similarity to x, y; z is scaled by the same factor."""
        affine = np.asarray(affine, np.float64)
        scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
        xy = self.xy @ affine[:, :2].T + affine[:, 2]
        pts = np.concatenate([xy, self.points[:, 2:3] * scale], axis=1)
        return FaceLandmarks(pts, self.visibility, None, self.confidence)

    def with_points(self, points: np.ndarray, visibility: np.ndarray | None = None) -> FaceLandmarks:
        """A copy with new points (and optionally visibility); the box follows the points."""
        vis = self.visibility if visibility is None else visibility
        return FaceLandmarks(points, vis, None, self.confidence)


def bounding_box(xy: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) of a point set."""
    xy = np.asarray(xy, np.float32)
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)]).astype(np.float32)


def eye_centers(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the subject's right (image-left) and left eyes."""
    return points[RIGHT_EYE].mean(axis=0), points[LEFT_EYE].mean(axis=0)


def inner_lip_gap(points: np.ndarray) -> float:
    """Mean distance between the upper and lower inner lip (``INNER_LIP_PAIRS``) in the xy plane."""
    p = np.asarray(points, np.float64)[:, :2]
    return float(np.mean([np.linalg.norm(p[a] - p[b]) for a, b in INNER_LIP_PAIRS]))


def interocular(points: np.ndarray) -> float:
    """Distance between the eye centres in the xy plane."""
    right, left = eye_centers(points[:, :2])
    return float(np.linalg.norm(left - right))
