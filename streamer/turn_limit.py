"""A soft limit on how far the source face turns away from its own pose (#14: limits, never tears).

One photo shows one side of a head: asked to turn much further than the photo's own pose, the
warp folds triangles over each other and smears the face into the background. The retargeted head
rotation is split into its in-plane part (a twist about the camera's view axis: roll, which a 2D
warp shows exactly on the face) and its out-of-plane part (the swing: yaw/pitch, which reveals what
the photo does not show). The swing is compressed: unchanged up to ``knee_deg``, then smoothly (the
curve and its slope are continuous) towards ``limit_deg``, which it never reaches, so the output
keeps following the driver's direction of motion, ever more slowly, and never folds. The roll gets
the same kind of soft limit, more loosely (``roll_knee_deg`` / ``roll_limit_deg``): the face rolls
exactly, but the neck and shoulders below it do not, and a 50-degree roll shears the neck.

Convention: rotations act on column vectors in image coordinates (x right, y down, z away from the
camera), as the landmarks are stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

VIEW_AXIS = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class TurnLimit:
    """Where the out-of-plane turn starts to be compressed and the angle it approaches; the same for the roll.

    The roll (in-plane twist) needs no limit for the face itself, which a 2D warp rotates exactly, but
    the neck and shoulders below do not roll with the head: a 50-degree roll shears the neck into a
    diagonal smear (furious_talk2_clip7, #14). ``roll_knee_deg`` / ``roll_limit_deg`` None: unlimited.
    """

    knee_deg: float = 20.0  #: turns up to this angle pass unchanged
    limit_deg: float = 35.0  #: the compressed turn approaches this angle and never passes it
    roll_knee_deg: float | None = None  #: rolls up to this angle pass unchanged (None: no roll limit)
    roll_limit_deg: float | None = None  #: the compressed roll approaches this angle

    def __post_init__(self) -> None:
        if not 0.0 <= self.knee_deg < self.limit_deg <= 180.0:
            raise ValueError(f"need 0 <= knee < limit <= 180 degrees, got {self.knee_deg}, {self.limit_deg}")
        if (self.roll_knee_deg is None) != (self.roll_limit_deg is None):
            raise ValueError("set both roll_knee_deg and roll_limit_deg, or neither")
        if self.roll_knee_deg is not None and not 0.0 <= self.roll_knee_deg < self.roll_limit_deg <= 180.0:
            raise ValueError(
                f"need 0 <= roll knee < roll limit <= 180 degrees, got {self.roll_knee_deg}, {self.roll_limit_deg}"
            )


#: The default limit: measured where the 2D warp starts to tear, see README "Large head poses". The roll
#: limit (#14, benchmarks/LARGE_POSE.md): furious_talk2_clip7's 50-70 degree rolls (as MediaPipe reads
#: them) sheared the neck until dlib lost the face in 13 of 17 frames of its worst stretch; 4 at 15/30.
DEFAULT_TURN_LIMIT = TurnLimit(knee_deg=20.0, limit_deg=35.0, roll_knee_deg=15.0, roll_limit_deg=30.0)


def soft_clip(x: np.ndarray | float, knee: float, limit: float) -> np.ndarray:
    """``x`` while ``|x| <= knee``, ``knee + span * tanh((|x| - knee) / span)`` beyond (span = limit - knee).

    Odd, monotone increasing, slope 1 up to the knee and continuous there, bounded by ``limit``.
    """
    a = np.asarray(x, np.float64)
    span = limit - knee
    mag = np.abs(a)
    over = knee + span * np.tanh((mag - knee) / span)
    return np.sign(a) * np.where(mag <= knee, mag, over)


def soft_saturate(angle_deg: np.ndarray | float, limit: TurnLimit = DEFAULT_TURN_LIMIT) -> np.ndarray:
    """The turn angle compressed by ``limit`` (:func:`soft_clip` with its knee and limit)."""
    return soft_clip(angle_deg, limit.knee_deg, limit.limit_deg)


@dataclass(frozen=True)
class ZoomLimit:
    """Soft limits on how much the source face grows/shrinks and slides (the driver's camera may cut or zoom).

    A relative driver that moves from a wide shot to a close-up grows its face threefold; moved by the same
    factor, the source face would leave its crop. Scale is limited in log space, the shift in face widths.
    """

    scale_knee: float = 0.10  #: |log scale| passing unchanged (about +-10%)
    scale_limit: float = 0.25  #: |log scale| approached, never passed (about -22% .. +28%)
    shift_knee: float = 0.15  #: shift passing unchanged, in source face widths
    shift_limit: float = 0.40  #: shift approached, never passed, in source face widths

    def scale(self, scale: float) -> float:
        """``scale`` softly limited."""
        return float(np.exp(soft_clip(np.log(scale), self.scale_knee, self.scale_limit)))

    def shift(self, shift: np.ndarray, face_width: float) -> np.ndarray:
        """``shift`` (3,) softly limited in length, direction kept."""
        length = float(np.linalg.norm(shift))
        if length <= 1e-9 or face_width <= 0:
            return shift
        squeezed = float(soft_clip(length / face_width, self.shift_knee, self.shift_limit)) * face_width
        return shift * (squeezed / length)


DEFAULT_ZOOM_LIMIT = ZoomLimit()


@dataclass(frozen=True)
class ExpressionFade:
    """How much of the driver's expression (its face shape against its reference frame) passes on as the
    driver turns away from that reference: all of it up to ``knee_deg`` of out-of-plane turn, then
    smoothly less, down to ``floor`` from ``end_deg`` on.

    MediaPipe's landmarks of a face turned 30-45 degrees are not its frontal shape turned: the midface
    (eyes to mouth) comes out squashed. Passed on as expression, that squash made the photo's face read
    as pitched down under a bald dome, and as another person (#14: driving.mp4 -> cage.jpg,
    benchmarks/LARGE_POSE.md). The mouth opening is set apart (``AnalyticRetargeter.absolute_mouth``),
    so speech still shows on a turned head; blinks and brows on a head turned past ``end_deg`` do not.
    """

    knee_deg: float = 15.0  #: turns up to this angle pass the whole expression
    end_deg: float = 35.0  #: from this turn on, only ``floor`` of it
    floor: float = 0.0  #: the share of the expression left at large turns

    def weight(self, turn_deg: float) -> float:
        """The share of the expression passed on at an out-of-plane turn of ``turn_deg`` degrees."""
        t = min(max((abs(turn_deg) - self.knee_deg) / max(self.end_deg - self.knee_deg, 1e-9), 0.0), 1.0)
        return 1.0 - (1.0 - self.floor) * t * t * (3.0 - 2.0 * t)  # smoothstep: no kink at either end


DEFAULT_EXPRESSION_FADE = ExpressionFade()


def swing_twist(rotation: np.ndarray, axis: np.ndarray = VIEW_AXIS) -> tuple[Rotation, Rotation]:
    """Split a 3x3 rotation into ``swing * twist`` (twist about ``axis``, swing about an axis normal to it)."""
    x, y, z, w = Rotation.from_matrix(rotation).as_quat()  # scipy: scalar last
    along = np.dot([x, y, z], axis) * axis
    twist_q = np.array([*along, w])
    norm = np.linalg.norm(twist_q)
    # A swing of exactly 180 degrees leaves no twist to measure: call it none.
    twist = Rotation.from_quat(twist_q / norm) if norm > 1e-9 else Rotation.identity()
    swing = Rotation.from_matrix(rotation) * twist.inv()
    return swing, twist


def _rescale(rotation: np.ndarray, limit: TurnLimit, curve: Callable[[float, float, float], float]) -> np.ndarray:
    """``rotation`` with its swing angle ``a`` replaced by ``curve(a, knee, limit)`` when ``a`` is past
    ``limit``'s knee (the swing's axis kept), and its signed twist (roll) ``r`` by ``curve(r, roll knee,
    roll limit)`` when ``limit`` has a roll limit and ``|r|`` is past its knee; ``rotation`` itself, the
    same object, when neither is."""
    swing, twist = swing_twist(rotation)
    vec = swing.as_rotvec()
    angle = float(np.degrees(np.linalg.norm(vec)))
    roll = _twist_degrees(twist)
    turn_over = angle > limit.knee_deg
    roll_over = limit.roll_knee_deg is not None and abs(roll) > limit.roll_knee_deg
    if not (turn_over or roll_over):
        return rotation
    if turn_over:
        swing = Rotation.from_rotvec(vec * curve(angle, limit.knee_deg, limit.limit_deg) / angle)
    if roll_over:
        assert limit.roll_knee_deg is not None and limit.roll_limit_deg is not None
        twist = Rotation.from_rotvec(VIEW_AXIS * np.radians(curve(roll, limit.roll_knee_deg, limit.roll_limit_deg)))
    return (swing * twist).as_matrix()


def limit_turn(rotation: np.ndarray, limit: TurnLimit | None = DEFAULT_TURN_LIMIT) -> np.ndarray:
    """``rotation`` with its out-of-plane part (and its roll, where ``limit`` has a roll limit) softly
    limited (see :func:`soft_clip`); None: unlimited."""
    if limit is None:
        return rotation
    return _rescale(rotation, limit, lambda value, knee, lim: float(soft_clip(value, knee, lim)))


def _unclip(value: float, knee: float, limit: float) -> float:
    """The inverse of :func:`soft_clip` for ``|value| > knee`` (at or past the limit: 99.9% of the way)."""
    span = limit - knee
    return math.copysign(knee + span * math.atanh(min((abs(value) - knee) / span, 0.999)), value)


def unlimit_turn(rotation: np.ndarray, limit: TurnLimit | None) -> np.ndarray:
    """The inverse of :func:`limit_turn`: the turn that ``limit`` compressed into ``rotation`` (None: unchanged).

    A compressed turn (or roll) at, or numerically past, its limit has no finite inverse; it is read as
    99.9% of the way there.
    """
    if limit is None:
        return rotation
    return _rescale(rotation, limit, _unclip)


def _twist_degrees(twist: Rotation) -> float:
    """The signed angle (degrees) of a twist about the view axis."""
    return float(np.degrees(twist.as_rotvec() @ VIEW_AXIS))


def turn_angle(rotation: np.ndarray) -> float:
    """The out-of-plane (swing) angle of ``rotation`` in degrees."""
    swing, _ = swing_twist(rotation)
    return float(np.degrees(np.linalg.norm(swing.as_rotvec())))


def roll_angle(rotation: np.ndarray) -> float:
    """The signed in-plane (twist) angle of ``rotation`` in degrees, about the view axis."""
    return _twist_degrees(swing_twist(rotation)[1])
