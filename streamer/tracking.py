"""Driver landmark tracking: one interface for ``convert``, the server and the camera path.

``DetectorTracker`` is the per-frame (global) detector in the detector's video mode; the temporal
global/local tracker plugs in behind the same ``Tracker`` protocol.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from streamer.detectors import LandmarkDetector
from streamer.landmarks import FaceLandmarks


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

    def update(self, frame_bgr: np.ndarray) -> FaceLandmarks | None:
        faces = self.detector.detect(frame_bgr)
        return faces[0] if faces else None

    def close(self) -> None:
        self.detector.close()
