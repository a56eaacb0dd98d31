"""Choosing the driver's reference (neutral, near-frontal) frame for relative motion, causally.

Each frame with a face gets a neutrality score (lower is better): head angles over ``max_angle``,
an open mouth, eyes closed below the stream's usual openness, brows off their usual height. The
first reference is the best frame of a short warm-up; in live mode a clearly better frame that
stays better for ``confirm_frames`` replaces it (at most once per ``cooldown_frames``). A user can
force frame N (``--reference-frame N``): from frame N on (or the first frame with a face after
it) the reference is locked; before it the automatic choice stands in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.landmarks import FaceLandmarks
from streamer.pose import HeadPose, expression_vector, head_pose


@dataclass(frozen=True)
class ReferenceConfig:
    """Reference-frame selection settings."""

    forced_frame: int | None = None  #: lock the reference to this frame index (0-based); None: automatic
    auto_reanchor: bool = True  #: replace the reference when a clearly more neutral frame shows up (live mode)
    max_angle: float = 12.0  #: degrees of yaw/pitch/roll that cost one score unit
    mouth_open_unit: float = 0.08  #: mouth opening (interocular units) that costs one score unit
    warmup_frames: int = 12  #: frames with a face over which the first reference is the best one seen
    improve_margin: float = 0.5  #: how much lower a candidate's score must be to replace the reference
    confirm_frames: int = 10  #: consecutive better frames needed before re-anchoring
    cooldown_frames: int = 150  #: frames between two automatic re-anchors
    history: int = 300  #: frames of expression history for the stream's usual eye/brow values


@dataclass(frozen=True)
class Reference:
    """The chosen reference frame."""

    landmarks: FaceLandmarks
    frame_index: int
    score: float


def neutrality_score(
    landmarks: FaceLandmarks,
    config: ReferenceConfig,
    pose: HeadPose | None = None,
    expression: np.ndarray | None = None,
    usual: np.ndarray | None = None,
) -> float:
    """Neutrality score of one face, lower is better (0: frontal, mouth closed, usual eyes and brows).

    ``usual`` is the stream's typical expression vector (its median); without it the eye and brow
    terms are left out, as nothing says yet what is usual for this face.
    """
    pose = pose or head_pose(landmarks.points)
    expr = expression_vector(landmarks.points) if expression is None else np.asarray(expression)
    angles = np.array([pose.yaw, pose.pitch, pose.roll]) / config.max_angle
    s = float(np.sqrt((angles**2).sum()))
    s += max(0.0, float(expr[0])) / config.mouth_open_unit
    if usual is not None:
        eyes = float(usual[2:4].mean())
        s += 2.0 * max(0.0, eyes - float(expr[2:4].mean())) / max(eyes, 1e-3)  # closed eyes
        s += abs(float(expr[4] - usual[4])) / max(float(usual[4]) * 0.1, 1e-3) * 0.5  # raised/lowered brows
    s += 1.0 - float(np.clip(landmarks.confidence, 0.0, 1.0))
    return s


class ReferenceSelector:
    """Feed every frame's tracked face with ``update``; it returns the reference to use now."""

    def __init__(self, config: ReferenceConfig | None = None):
        self.config = config or ReferenceConfig()
        self.changes = 0  #: how many times the reference was replaced after the first choice
        self.reset()

    def reset(self) -> None:
        """Forget the reference (a user asked to re-anchor): the next frames choose a new one."""
        self.reference: Reference | None = None
        self._locked = False
        self._seen = 0
        self._since_change = 0
        self._run: list[Reference] = []
        self._expr: list[np.ndarray] = []

    def score(
        self, landmarks: FaceLandmarks, pose: HeadPose | None = None, expression: np.ndarray | None = None
    ) -> float:
        """Neutrality score of one face (0 is a frontal face with a closed mouth and usual eyes/brows)."""
        usual = np.median(np.stack(self._expr), axis=0) if self._expr else None
        return neutrality_score(landmarks, self.config, pose, expression, usual)

    def force(self, landmarks: FaceLandmarks, frame_index: int) -> None:
        """Lock the reference to ``landmarks`` now (e.g. frame N found by an offline pre-pass)."""
        self._set(Reference(landmarks, frame_index, self.score(landmarks)))
        self._locked = True

    def update(
        self,
        frame_index: int,
        landmarks: FaceLandmarks | None,
        pose: HeadPose | None = None,
        expression: np.ndarray | None = None,
    ) -> FaceLandmarks | None:
        """The reference to use at ``frame_index`` (None until a face has been seen)."""
        cfg = self.config
        self._since_change += 1
        if landmarks is None or self._locked:
            self._run.clear()
            return None if self.reference is None else self.reference.landmarks
        expr = expression_vector(landmarks.points) if expression is None else np.asarray(expression)
        cand = Reference(landmarks, frame_index, self.score(landmarks, pose, expr))
        self._expr = (self._expr + [expr])[-cfg.history :]
        self._seen += 1
        if cfg.forced_frame is not None and frame_index >= cfg.forced_frame:
            self._set(cand)
            self._locked = True
        elif self.reference is None or (self._seen <= cfg.warmup_frames and cand.score < self.reference.score):
            self._set(cand, count=False)
        elif cfg.auto_reanchor or cfg.forced_frame is not None:
            self._consider(cand)
        return None if self.reference is None else self.reference.landmarks

    def _consider(self, cand: Reference) -> None:
        cfg, ref = self.config, self.reference
        assert ref is not None
        if cand.score < ref.score - cfg.improve_margin:
            self._run.append(cand)
        else:
            self._run.clear()
        if len(self._run) >= cfg.confirm_frames and self._since_change >= cfg.cooldown_frames:
            self._set(min(self._run, key=lambda r: r.score))

    def _set(self, ref: Reference, count: bool = True) -> None:
        if self.reference is not None and count:
            self.changes += 1
        self.reference = ref
        self._since_change = 0
        self._run.clear()
