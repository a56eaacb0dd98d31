"""Analytic retargeting: the driver's motion on the source's own face shape (the IDSG idea, by hand).

Relative mode splits the driver's motion since its reference frame into a rigid part (3D rotation,
scale, translation of the rigid landmarks) and an expression part (what is left in the reference
frame's coordinates), maps both into the source's frame and applies them to the source's landmarks,
so a wide-jawed source keeps its jaw. Absolute mode places the driver's own landmarks into the
source crop (the driver's shape, as first-order-motion models do in absolute mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from streamer import landmarks as L
from streamer.alignment import crop_transform
from streamer.geometry import umeyama
from streamer.landmarks import FaceLandmarks
from streamer.pose import head_axes, visibility_from_landmarks

MotionMode = Literal["relative", "absolute"]

#: Pairs (upper, lower) that must not cross: inner lips and eyelids.
_NON_CROSSING = ((61, 67), (62, 66), (63, 65), (37, 41), (38, 40), (43, 47), (44, 46))


@dataclass(frozen=True)
class RigidMotion:
    """``x -> scale * (x - centre) @ rotation.T + centre + shift`` for (N, 3) rows."""

    scale: float
    rotation: np.ndarray
    centre: np.ndarray
    shift: np.ndarray

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """Move (N, 3) points."""
        return self.scale * (pts - self.centre) @ self.rotation.T + self.centre + self.shift


def rigid_motion(ref: np.ndarray, cur: np.ndarray) -> RigidMotion:
    """The similarity taking ``ref``'s rigid landmarks onto ``cur``'s, about ``ref``'s rigid centroid."""
    s, rot, t = umeyama(ref[L.RIGID], cur[L.RIGID])
    centre = ref[L.RIGID].mean(axis=0)
    shift = s * rot @ centre + t - centre
    return RigidMotion(s, rot, centre, shift)


def _uncross(points: np.ndarray) -> np.ndarray:
    """Keep upper lids/lips above lower ones along the head's down axis (no negative openings)."""
    pts = points.copy()
    down = head_axes(pts)[:, 1]
    for up, lo in _NON_CROSSING:
        gap = (pts[lo] - pts[up]) @ down
        if gap < 0:
            pts[up] += 0.5 * gap * down
            pts[lo] -= 0.5 * gap * down
    return pts


class AnalyticRetargeter:
    """Moves the source's landmarks by the driver's motion (relative) or replaces them (absolute)."""

    def __init__(self, mode: MotionMode = "relative", crop_size: int = 256):
        self.mode = mode
        self.crop_size = crop_size

    def motion(self, source: np.ndarray, driver_ref: np.ndarray, driver: np.ndarray) -> RigidMotion:
        """The rigid motion to apply to the source (relative mode), in the source's frame."""
        drv = rigid_motion(driver_ref, driver)
        to_src = rigid_motion(driver_ref, source)  # driver reference frame -> source frame
        rot_src = to_src.rotation @ drv.rotation @ to_src.rotation.T
        shift_src = to_src.scale * to_src.rotation @ drv.shift
        return RigidMotion(drv.scale, rot_src, source[L.RIGID].mean(axis=0), shift_src)

    def retarget(self, source: FaceLandmarks, driver_ref: FaceLandmarks, driver: FaceLandmarks) -> FaceLandmarks:
        """Target landmarks in the source's coordinates for this driver frame."""
        if self.mode == "absolute":
            to_crop = crop_transform(driver_ref, self.crop_size)
            src_to_crop = crop_transform(source, self.crop_size)
            # driver frame -> driver reference crop -> source coordinates
            M = np.vstack([src_to_crop, [0, 0, 1]])
            back = np.linalg.inv(M)[:2]
            moved = driver.transformed(to_crop).transformed(back)
            return moved.with_points(moved.points, visibility_from_landmarks(moved.points))
        src = source.points.astype(np.float64)
        ref = driver_ref.points.astype(np.float64)
        cur = driver.points.astype(np.float64)
        drv = rigid_motion(ref, cur)
        unposed = (cur - drv.centre - drv.shift) @ drv.rotation / drv.scale + drv.centre
        expression = unposed - ref
        to_src = rigid_motion(ref, src)
        shaped = _uncross(src + to_src.scale * expression @ to_src.rotation.T)
        target = self.motion(src, ref, cur).apply(shaped)
        return source.with_points(target, visibility_from_landmarks(target))
