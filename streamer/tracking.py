"""Driver landmark tracking: one interface for ``convert``, the server and the camera path.

``DetectorTracker`` runs the detector on every frame (the raw global integrator);
``TemporalTracker`` (``streamer.tracking_temporal``) fuses key-frame detections with optical flow.
``create_tracker`` picks one by name; ``DEFAULT_TRACKER`` says which one ``convert`` uses.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from streamer.detectors import DetectorMode, LandmarkDetector, create_detector
from streamer.errors import InputError
from streamer.landmarks import FaceLandmarks
from streamer.tracking_reference import ReferenceConfig, ReferenceSelector
from streamer.tracking_temporal import TemporalConfig, TemporalTracker, TrackResult

TRACKER_NAMES = ("temporal", "detector")
#: The per-frame detector stays the default until the temporal tracker meets issue 3's targets
#: (benchmarks/TRACKING.md): it is smoother and holds occluded faces, but drifts more over 300 frames
#: (1.06 vs 0.92 crop px), uses the detector on more than 1/3 of occluded frames, and follows the
#: mouth less closely (r 0.87 vs 0.96 on the talking videos).
DEFAULT_TRACKER = "detector"
#: The temporal tracker's detector runs without MediaPipe's lip/eye refinement (see ``create_tracker``).
TEMPORAL_REFINE = False


class Tracker(Protocol):
    """Consumes consecutive frames of one stream; returns the face's landmarks or None."""

    def update(self, frame_bgr: np.ndarray) -> FaceLandmarks | None:
        """Landmarks of the tracked face in this frame (image pixels), or None if there is none."""
        ...

    def close(self) -> None:
        """Release the detector."""
        ...


class DetectorTracker:
    """Runs the detector on every frame and keeps its largest face."""

    def __init__(self, detector: LandmarkDetector):
        self.detector = detector
        self.frames = 0

    @property
    def duty_cycle(self) -> float:
        """Detector calls per frame: always 1."""
        return 1.0

    def update(self, frame_bgr: np.ndarray) -> FaceLandmarks | None:
        self.frames += 1
        faces = self.detector.detect(frame_bgr)
        return faces[0] if faces else None

    def close(self) -> None:
        self.detector.close()


def create_tracker(name: str = DEFAULT_TRACKER, detector_name: str = "auto", **config) -> Tracker:
    """Build a tracker by name.

    - ``"temporal"``: ``TemporalTracker`` on an image-mode detector (it decides when the detector
      runs); ``config`` holds ``TemporalConfig`` fields, e.g. ``fps=25.0, key_interval=4``.
    - ``"detector"``: ``DetectorTracker``; ``config`` may hold ``mode`` ("video", the default, uses
      MediaPipe's own frame-to-frame tracking; "image" runs the full detector on every frame) and
      ``refine`` (MediaPipe's lip/eye refinement; default on).
    """
    if name == "temporal":
        fields = {f.name for f in dataclasses.fields(TemporalConfig)}
        unknown = set(config) - fields
        if unknown:
            raise InputError(f"unknown temporal tracker settings: {', '.join(sorted(unknown))}")
        # The plain mesh it was tuned on (benchmarks/TRACKING.md): with MediaPipe's lip/eye refinement it
        # missed its own targets (static jitter 2.6x, not 3x, below the detector's; fast-motion error 1.2x).
        detector = create_detector(detector_name, "image", refine=TEMPORAL_REFINE)
        return TemporalTracker(detector, TemporalConfig(**config))
    if name == "detector":
        mode: DetectorMode = config.pop("mode", "video")
        refine: bool | None = config.pop("refine", None)
        if config:
            raise InputError(f"unknown detector tracker settings: {', '.join(sorted(config))}")
        return DetectorTracker(create_detector(detector_name, mode, refine=refine))
    raise InputError(f"unknown tracker {name!r}; choose one of {', '.join(TRACKER_NAMES)}")


__all__ = [
    "DEFAULT_TRACKER",
    "TRACKER_NAMES",
    "DetectorTracker",
    "ReferenceConfig",
    "ReferenceSelector",
    "TemporalConfig",
    "TemporalTracker",
    "TrackResult",
    "Tracker",
    "create_tracker",
]
