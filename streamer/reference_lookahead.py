"""Choosing a file driver's reference frame by looking ahead (``convert --reference lookahead``).

A live stream must choose its neutral reference causally (``streamer.tracking_reference``); a file
can be read twice. A quick first pass detects the face on evenly spaced frames of the driver's
first ``max_seconds`` (at most ``max_detections`` of them), scores each with the same neutrality
score the live selector uses, the usual eye/brow values being the median of the whole pass, and the
best frame is the reference from the first frame on: a clip that starts in profile no longer makes
every later frame relative to that profile, and nothing jumps mid-clip.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streamer.detectors import create_detector
from streamer.landmarks import FaceLandmarks
from streamer.media.video_file import VideoFileSource, VideoFrame
from streamer.pose import HeadPose, expression_vector, head_pose
from streamer.tracking_reference import ReferenceConfig, neutrality_score


@dataclass(frozen=True)
class LookaheadConfig:
    """How much of the driver the first pass reads."""

    max_seconds: float = 60.0  #: only the first minute of a long clip is scanned
    max_detections: int = 90  #: frames the detector runs on, spread evenly over what is scanned
    max_side: int = 640  #: frames are scaled down to this longest side for the detector (the pass is a quick one)


@dataclass(frozen=True)
class LookaheadReference:
    """The frame the first pass chose, with what it measured."""

    frame_index: int
    landmarks: FaceLandmarks
    pose: HeadPose
    score: float
    scanned: int  #: frames the detector ran on
    with_face: int  #: of those, frames with a face


@dataclass(frozen=True)
class ScoredFace:
    """One scanned frame's face, before the usual expression is known."""

    frame_index: int
    landmarks: FaceLandmarks
    pose: HeadPose
    expression: np.ndarray


def pick_reference(faces: list[ScoredFace], config: ReferenceConfig | None = None) -> tuple[ScoredFace, float] | None:
    """The most neutral of ``faces`` and its score (None when there are none).

    The usual expression is the median over all of them, so closed eyes or raised brows are judged
    against the whole clip rather than against its first frames.
    """
    if not faces:
        return None
    config = config or ReferenceConfig()
    usual = np.median(np.stack([f.expression for f in faces]), axis=0)
    scores = [neutrality_score(f.landmarks, config, f.pose, f.expression, usual) for f in faces]
    best = int(np.argmin(scores))
    return faces[best], float(scores[best])


def _detect_small(detector, image: np.ndarray, max_side: int) -> list[FaceLandmarks]:
    """Faces in ``image`` found on a copy scaled to at most ``max_side``, in ``image``'s pixel coordinates."""
    scale = max_side / max(image.shape[:2])
    if scale >= 1.0:
        return detector.detect(image)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    back = np.array([[1 / scale, 0, 0.5 / scale - 0.5], [0, 1 / scale, 0.5 / scale - 0.5]])  # pixel centres
    return [face.transformed(back) for face in detector.detect(small)]


def scan_driver(
    driver: Path,
    landmarks: str = "auto",
    config: LookaheadConfig | None = None,
    reference: ReferenceConfig | None = None,
) -> LookaheadReference | None:
    """Detect faces on spread-out frames of ``driver`` and return the most neutral one (None: no face)."""
    config = config or LookaheadConfig()
    source = VideoFileSource(driver)
    try:
        info = source.info
        wanted = int(config.max_seconds * float(info.rate)) + 1
        span = min(info.frames, wanted) if info.frames else wanted
        stride = max(1, math.ceil(span / config.max_detections))
        faces: list[ScoredFace] = []
        scanned = 0
        with contextlib.closing(create_detector(landmarks, "image")) as detector:
            for item in source.items(max_seconds=config.max_seconds, every=stride):
                if not isinstance(item, VideoFrame):
                    continue
                scanned += 1
                found = _detect_small(detector, item.image, config.max_side)
                if found:
                    face = found[0]
                    faces.append(ScoredFace(item.index, face, head_pose(face.points), expression_vector(face.points)))
    finally:
        source.close()
    picked = pick_reference(faces, reference)
    if picked is None:
        return None
    face, score = picked
    return LookaheadReference(face.frame_index, face.landmarks, face.pose, score, scanned, len(faces))
