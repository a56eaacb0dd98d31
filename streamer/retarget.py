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
from streamer.pose import face_width, head_axes, visibility_from_landmarks
from streamer.turn_limit import (
    DEFAULT_EXPRESSION_FADE,
    DEFAULT_TURN_LIMIT,
    DEFAULT_ZOOM_LIMIT,
    ExpressionFade,
    TurnLimit,
    ZoomLimit,
    limit_turn,
    turn_angle,
)

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

    def unapply(self, pts: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`apply`: where (N, 3) moved points came from."""
        return (pts - self.centre - self.shift) @ self.rotation / self.scale + self.centre


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


#: (nose-base point, outer upper-lip point below it) along the philtrum, and the upper lip's points that
#: move together when it must come down.
_PHILTRUM = ((31, 49), (32, 50), (33, 51), (34, 52), (35, 53))
_UPPER_LIP = np.array([49, 50, 51, 52, 53, 61, 62, 63])
_LIP_CORNERS = np.array([48, 54, 60, 64])
#: The upper lip keeps at least this share of the photo's own nose-to-lip gap. A driver raising its upper
#: lip by more than the photo's philtrum is tall (W009 -> image02202.jpg: a child's 12 px philtrum) put the
#: lip above the nose base: the warp's triangles folded and the lip was drawn over the nose.
MIN_PHILTRUM_SHARE = 0.4


def _keep_philtrum(points: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Move the upper lip down (corners half as far) until every philtrum gap, along the head's down axis,
    is at least ``MIN_PHILTRUM_SHARE`` of the source's. Both point sets unposed, in the source's frame."""
    down = head_axes(source)[:, 1]
    deficit = max(
        MIN_PHILTRUM_SHARE * float((source[lip] - source[nose]) @ down) - float((points[lip] - points[nose]) @ down)
        for nose, lip in _PHILTRUM
    )
    if deficit <= 0:
        return points
    pts = points.copy()
    pts[_UPPER_LIP] += deficit * down
    pts[_LIP_CORNERS] += 0.5 * deficit * down
    return pts


#: Points that move with the lower lip when the mouth opens, and how much (jaw follows partly).
_LOWER_LIP_WEIGHTS = {
    65: 1.0,
    66: 1.0,
    67: 1.0,
    55: 1.0,
    56: 1.0,
    57: 1.0,
    58: 1.0,
    59: 1.0,
    7: 0.8,
    8: 0.8,
    9: 0.8,
    6: 0.6,
    10: 0.6,
    5: 0.3,
    11: 0.3,
}
#: How much of the driver's inner-lip gap, beyond the photo's own, the source's mouth takes: the target gap
#: is ``own + gain * (driver - own)``. MediaPipe's refined mesh reads openings wider than dlib's 68 points
#: (the human-annotated iBUG convention) do: ``python -m benchmarks.detector_dlib``'s "mouth scale" (1/k,
#: dlib's units per MediaPipe's) is 0.74 at the median of the 19 expression clips (0.44-1.08, 2026-12-07,
#: benchmarks/EXPRESSION.md). The warp draws the source's lips where the
#: landmarks put them, so an unscaled transfer opened the output k times wider than the driver's mouth
#: is, and the widest drawn cavities no longer read as a mouth at all (Twitch5 -> cage.jpg: dlib's mouth
#: r -0.12 -> 0.96 at 0.75). With gain = 1/k the drawn opening is the driver's true one for any photo:
#: own/k + (driver - own)/k; and a photo driving itself keeps its own mouth.
MOUTH_GAP_GAIN = 0.75


def mouth_gap(points: np.ndarray) -> float:
    """Mean inner-lip gap along the head's down axis, in 3D interocular distances (pose-free)."""
    down = head_axes(points)[:, 1]
    iod = np.linalg.norm(points[L.LEFT_EYE].mean(0) - points[L.RIGHT_EYE].mean(0)) + 1e-9
    return float(np.mean([(points[lo] - points[up]) @ down for up, lo in L.INNER_LIP_PAIRS]) / iod)


def _set_mouth_gap(points: np.ndarray, gap: float) -> np.ndarray:
    """Move the lower lip (and partly the jaw) along the head's down axis to reach ``gap``."""
    pts = points.copy()
    down = head_axes(pts)[:, 1]
    iod = np.linalg.norm(pts[L.LEFT_EYE].mean(0) - pts[L.RIGHT_EYE].mean(0))
    change = (max(gap, 0.0) - mouth_gap(pts)) * iod
    for idx, weight in _LOWER_LIP_WEIGHTS.items():
        pts[idx] += weight * change * down
    return pts


class AnalyticRetargeter:
    """Moves the source's landmarks by the driver's motion (relative) or replaces them (absolute).

    In relative mode the mouth opening is transferred as an absolute amount (the driver's inner-lip
    gap in interocular units), not as a change since the reference frame: a reference frame caught
    mid-word would otherwise leave the source unable to close (or open) its mouth that far.
    """

    def __init__(
        self,
        mode: MotionMode = "relative",
        crop_size: int = 256,
        absolute_mouth: bool = True,
        mouth_gain: float = MOUTH_GAP_GAIN,
        turn_limit: TurnLimit | None = DEFAULT_TURN_LIMIT,
        zoom_limit: ZoomLimit | None = DEFAULT_ZOOM_LIMIT,
        expression_fade: ExpressionFade | None = DEFAULT_EXPRESSION_FADE,
    ):
        self.mode = mode
        self.crop_size = crop_size
        self.absolute_mouth = absolute_mouth
        self.mouth_gain = mouth_gain  #: share of the driver's gap beyond the photo's own (``MOUTH_GAP_GAIN``)
        self.turn_limit = turn_limit  #: soft limit on the out-of-plane turn from the source's pose (None: off)
        self.zoom_limit = zoom_limit  #: soft limits on the source face's scale and shift (None: off)
        self.expression_fade = expression_fade  #: less expression as the driver turns (None: all of it)

    def retarget(self, source: FaceLandmarks, driver_ref: FaceLandmarks, driver: FaceLandmarks) -> FaceLandmarks:
        """Target landmarks in the source's coordinates for this driver frame."""
        if self.mode == "absolute":
            return self._absolute(source, driver_ref, driver)
        src = source.points.astype(np.float64)
        ref = driver_ref.points.astype(np.float64)
        cur = driver.points.astype(np.float64)
        drv = rigid_motion(ref, cur)  # the driver's head motion since its reference frame
        to_src = rigid_motion(ref, src)  # driver reference frame -> source frame
        unposed = drv.unapply(cur)
        fade = 1.0 if self.expression_fade is None else self.expression_fade.weight(turn_angle(drv.rotation))
        shaped = _keep_philtrum(src + fade * to_src.scale * (unposed - ref) @ to_src.rotation.T, src)
        if self.absolute_mouth:
            own = mouth_gap(src)
            shaped = _set_mouth_gap(shaped, own + self.mouth_gain * (mouth_gap(cur) - own))
        shaped = _uncross(shaped)
        scale, shift = drv.scale, to_src.scale * to_src.rotation @ drv.shift
        if self.zoom_limit is not None:
            scale, shift = self.zoom_limit.scale(scale), self.zoom_limit.shift(shift, face_width(src))
        motion = RigidMotion(
            scale,
            limit_turn(to_src.rotation @ drv.rotation @ to_src.rotation.T, self.turn_limit),
            src[L.RIGID].mean(axis=0),
            shift,
        )
        target = motion.apply(shaped)
        return source.with_points(target, visibility_from_landmarks(target))

    def _absolute(self, source: FaceLandmarks, driver_ref: FaceLandmarks, driver: FaceLandmarks) -> FaceLandmarks:
        # driver frame -> driver reference crop -> source coordinates
        to_crop = crop_transform(driver_ref, self.crop_size)
        from_crop = np.linalg.inv(np.vstack([crop_transform(source, self.crop_size), [0, 0, 1]]))[:2]
        moved = driver.transformed(to_crop).transformed(from_crop)
        return moved.with_points(moved.points, visibility_from_landmarks(moved.points))
