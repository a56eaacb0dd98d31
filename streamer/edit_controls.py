"""Editing controls on top of the driver's motion: head offsets, expression scale, eye/lip/smile overrides.

One small pure stage, applied to the target landmarks after any retargeter (analytic or IDSG): the
target is split into its rigid pose relative to the source (``rigid_motion``) and the non-rigid
expression residual left in the source's own frame; the residual is scaled, the eye and lip gaps are
overridden, and the face is posed again with the head offsets added.

Head offsets go through the same soft turn limit as the driver's motion (``streamer.turn_limit``): a
user asking for ``--yaw 45`` on a frontal photo gets a turn that approaches the limit (35 degrees by
default) instead of a torn face. When the retargeter already limited the driver's turn, that limit is
undone first and applied once to the sum, so offsets and driver add before the (single) compression.

Convention: landmarks are (68, 3) in image coordinates (x right, y down, z away from the camera);
angles in degrees as ``streamer.pose.head_pose`` reads them (yaw +: face turns to image right, pitch
+: chin up, roll +: clockwise). Eye and lip ratios are the ones ``benchmarks.dlib_judge`` measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Literal

import numpy as np

from streamer import landmarks as L
from streamer.errors import InputError
from streamer.geometry import rotation_matrix
from streamer.landmarks import FaceLandmarks
from streamer.pose import head_axes, visibility_from_landmarks
from streamer.retarget import RigidMotion, _set_mouth_gap, _uncross, rigid_motion
from streamer.turn_limit import DEFAULT_TURN_LIMIT, TurnLimit, limit_turn, unlimit_turn

MotionFrom = Literal["both", "pose", "expression"]
#: ``--motion-from`` choices: the driver's head pose and expression, its pose only, or its expression only.
MOTION_FROM: tuple[MotionFrom, ...] = ("both", "pose", "expression")

#: Allowed range of each numeric control (inclusive), and its unit for messages.
RANGES: dict[str, tuple[float, float, str]] = {
    "yaw": (-45.0, 45.0, "degrees"),
    "pitch": (-30.0, 30.0, "degrees"),
    "roll": (-45.0, 45.0, "degrees"),
    "expression_scale": (0.0, 2.0, ""),
    "eyes_open": (0.0, 1.5, ""),
    "lips_open": (0.0, 1.0, ""),
    "smile": (-1.0, 1.0, ""),
}

#: Upper eyelid, lower eyelid pairs; a blink moves the upper lid most (its share, the rest the lower lid).
_EYELID_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))
_UPPER_LID_SHARE = 0.8
#: Smile: how far the mouth corners move at ``smile`` 1, in interocular distances (out, up).
_SMILE_OUT, _SMILE_UP = 0.09, 0.08
#: Points that follow the mouth corners in a smile, and how much: (index, side, weight); side -1 = image left.
_SMILE_POINTS = (
    (48, -1, 1.0),
    (60, -1, 1.0),
    (49, -1, 0.45),
    (59, -1, 0.45),
    (61, -1, 0.35),
    (67, -1, 0.35),
    (54, 1, 1.0),
    (64, 1, 1.0),
    (53, 1, 0.45),
    (55, 1, 0.45),
    (63, 1, 0.35),
    (65, 1, 0.35),
)


def _shown(value: object, limit: int = 40) -> str:
    """``value`` for a one-line message, cut to ``limit`` characters."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def flag_name(field_name: str) -> str:
    """The command-line flag of a control field (``expression_scale`` -> ``--expression-scale``)."""
    return "--" + field_name.replace("_", "-")


@dataclass(frozen=True)
class EditControls:
    """Edits applied on top of the driver's motion; every default means "no change".

    Checked on construction (NaN, infinities, out-of-range values and unknown ``motion_from`` are an
    ``InputError``: one line, exit 2), so every path (flags, the page's sliders, hotkeys) is checked here.
    """

    yaw: float = 0.0  #: head offset, degrees, added to the driver's pose (|yaw| <= 45)
    pitch: float = 0.0  #: head offset, degrees (|pitch| <= 30)
    roll: float = 0.0  #: head offset, degrees (|roll| <= 45)
    #: the driver's expression relative to the source photo's: 0 = the photo's own, 1 = the driver's, 2 = twice
    expression_scale: float = 1.0
    #: eyelid gap as a fraction of the source photo's own (0 closed, 1 as in the photo, 1.5 wider); None: driver
    eyes_open: float | None = None
    #: inner-lip gap over the interocular distance (0 closed, 0.3 talking, 0.6 wide open); None: driver
    lips_open: float | None = None
    smile: float = 0.0  #: mouth corners out and up (1) or down (-1), on top of the expression
    motion_from: MotionFrom = "both"  #: take the driver's "both", only its head "pose", or only its "expression"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "motion_from":
                if value not in MOTION_FROM:
                    raise InputError(f"--motion-from must be one of {', '.join(MOTION_FROM)}, got {_shown(value)}")
                continue
            if value is None and f.name in ("eyes_open", "lips_open"):
                continue
            lo, hi, unit = RANGES[f.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"{flag_name(f.name)} must be a number, got {_shown(value)}")
            try:
                number = float(value)
            except OverflowError:  # an integer too large for a float (JSON allows it)
                number = math.inf
            if not math.isfinite(number) or not lo <= number <= hi:
                raise InputError(
                    f"{flag_name(f.name)} must be between {lo:g} and {hi:g}{' ' + unit if unit else ''}, "
                    f"got {_shown(value)}"
                )
            object.__setattr__(self, f.name, number)

    def updated(self, **changes) -> EditControls:
        """A copy with ``changes`` (checked like the constructor); unknown names are an ``InputError``."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise InputError(f"unknown edit control(s) {', '.join(unknown)}")
        return replace(self, **changes)

    @property
    def head_offset(self) -> bool:
        """Whether any head offset is asked for."""
        return bool(self.yaw or self.pitch or self.roll)

    @property
    def is_identity(self) -> bool:
        """Whether these controls change nothing."""
        return self == NO_EDITS

    def describe(self) -> str:
        """The controls that differ from the defaults, as flags (``"--yaw 20 --eyes-open 0"``; "" for none)."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                shown = f"{value:g}" if isinstance(value, float) else str(value)
                parts.append(f"{flag_name(f.name)} {shown}")
        return " ".join(parts)


#: The controls that change nothing (every default).
NO_EDITS = EditControls()


def controls_from_mapping(values: object) -> EditControls:
    """``EditControls`` from a JSON object (the page's ``{"type": "edits", "controls": {...}}``): field names as
    keys, missing ones at their defaults; anything else is an ``InputError`` (one line)."""
    if not isinstance(values, dict):
        raise InputError('"edits" needs a "controls" object')
    unknown = sorted(set(values) - {f.name for f in fields(EditControls)})
    if unknown:
        raise InputError(f"unknown edit control(s) {_shown(', '.join(map(str, unknown)), 80)}")
    return EditControls(**values)


def apply_edits(
    source: np.ndarray,
    target: np.ndarray,
    controls: EditControls,
    upstream_limit: TurnLimit | None = None,
    turn_limit: TurnLimit | None = DEFAULT_TURN_LIMIT,
) -> np.ndarray:
    """The (68, 3) ``target`` landmarks with ``controls`` applied; ``source`` is the source photo's (68, 3).

    ``upstream_limit`` is the turn limit the retargeter already applied (undone before the head offsets
    are added); ``turn_limit`` is applied to the offset turn (None: unlimited). Identity controls return
    ``target`` unchanged.
    """
    if controls.is_identity:
        return target
    src = np.asarray(source, np.float64)
    tgt = np.asarray(target, np.float64)
    pose = rigid_motion(src, tgt)  # the target's head pose relative to the source photo
    unposed = pose.unapply(tgt)
    scale = 0.0 if controls.motion_from == "pose" else controls.expression_scale
    face = src + scale * (unposed - src)  # the expression residual, scaled, on the source's own face
    if controls.smile:
        face = _smile(face, controls.smile)
    if controls.eyes_open is not None:
        face = _set_eye_opening(face, src, controls.eyes_open)
    if controls.lips_open is not None:
        face = _set_mouth_gap(face, controls.lips_open)
    face = _uncross(face)
    # "expression": the source photo's own pose (the identity motion about its rigid centre)
    motion = RigidMotion(1.0, np.eye(3), pose.centre, np.zeros(3)) if controls.motion_from == "expression" else pose
    if controls.head_offset:
        rotation = unlimit_turn(motion.rotation, upstream_limit)
        offset = rotation_matrix(controls.yaw, controls.pitch, controls.roll)
        motion = RigidMotion(motion.scale, limit_turn(offset @ rotation, turn_limit), motion.centre, motion.shift)
    return motion.apply(face)


def limit_target_turn(source: np.ndarray, target: np.ndarray, limit: TurnLimit) -> np.ndarray:
    """``target`` (68, 3) with its head turn relative to ``source`` softly limited; itself when within the knee."""
    pose = rigid_motion(np.asarray(source, np.float64), np.asarray(target, np.float64))
    limited = limit_turn(pose.rotation, limit)
    if limited is pose.rotation:
        return target
    unposed = pose.unapply(np.asarray(target, np.float64))
    return RigidMotion(pose.scale, limited, pose.centre, pose.shift).apply(unposed).astype(np.float32)


def eye_opening(points: np.ndarray) -> np.ndarray:
    """The four eyelid gaps (upper to lower lid along the head's down axis), in pixels."""
    p = np.asarray(points, np.float64)
    down = head_axes(p)[:, 1]
    return np.array([(p[lo] - p[up]) @ down for up, lo in _EYELID_PAIRS])


def _set_eye_opening(face: np.ndarray, source: np.ndarray, ratio: float) -> np.ndarray:
    """Eyelid gaps set to ``ratio`` times the source photo's own (upper lid moves most, as in a blink)."""
    pts = face.copy()
    down = head_axes(pts)[:, 1]
    change = ratio * np.maximum(eye_opening(source), 0.0) - eye_opening(pts)
    for (up, lo), delta in zip(_EYELID_PAIRS, change, strict=True):
        pts[up] -= _UPPER_LID_SHARE * delta * down
        pts[lo] += (1.0 - _UPPER_LID_SHARE) * delta * down
    return pts


def _smile(face: np.ndarray, amount: float) -> np.ndarray:
    """Mouth corners moved out and up (``amount`` > 0) or down and in (< 0), along the head's axes."""
    pts = face.copy()
    axes = head_axes(pts)
    across, down = axes[:, 0], axes[:, 1]
    # head x points to the subject's left = image right on a frontal face: image-left corners move by -x
    iod = float(np.linalg.norm(pts[L.LEFT_EYE].mean(0) - pts[L.RIGHT_EYE].mean(0)))
    for idx, side, weight in _SMILE_POINTS:
        pts[idx] += weight * amount * iod * (_SMILE_OUT * side * across - _SMILE_UP * down)
    return pts


class EditingRetargeter:
    """Any retargeter followed by :func:`apply_edits`; ``controls`` may be replaced between frames (live).

    Reads ``controls`` once per frame, so a new value (assigned from another thread) applies from the
    next frame whole. Other attributes (``turn_limit``, the IDSG's ``motion_response``) are the inner one's.
    """

    def __init__(self, inner, controls: EditControls | None = None, turn_limit: TurnLimit | None = DEFAULT_TURN_LIMIT):
        self.inner = inner
        self.controls = controls or EditControls()
        self.edit_turn_limit = turn_limit

    def retarget(self, source: FaceLandmarks, driver_ref: FaceLandmarks, driver: FaceLandmarks) -> FaceLandmarks:
        """The inner retargeter's target with the current controls applied.

        A retargeter without a turn limit of its own (the IDSG) gets this stage's: no mode may turn the
        photo past what it can show.
        """
        target = self.inner.retarget(source, driver_ref, driver)
        upstream = getattr(self.inner, "turn_limit", None)
        if not hasattr(self.inner, "turn_limit") and self.edit_turn_limit is not None:
            limited = limit_target_turn(source.points, target.points, self.edit_turn_limit)
            if limited is not target.points:
                target = target.with_points(limited, visibility_from_landmarks(limited))
            upstream = self.edit_turn_limit
        controls = self.controls
        if controls.is_identity:
            return target
        pts = apply_edits(source.points, target.points, controls, upstream, self.edit_turn_limit)
        return target.with_points(pts, visibility_from_landmarks(pts))

    def __getattr__(self, name: str):
        return getattr(self.inner, name)
