"""Landmark detectors behind one interface; ``create_detector`` picks one by name."""

from __future__ import annotations

from streamer.detectors.base import DetectorMode, LandmarkDetector
from streamer.errors import InputError

DETECTOR_NAMES = ("auto", "mediapipe", "fan")


def create_detector(
    name: str = "auto", mode: DetectorMode = "image", max_faces: int = 1, refine: bool | None = None
) -> LandmarkDetector:
    """Build a detector: ``auto`` is the embedded MediaPipe face mesh; ``fan`` needs its weights on disk.

    ``refine``: MediaPipe's lip/eye refinement (None: its default, ``REFINE_LANDMARKS``); FAN ignores it.
    """
    if name in ("auto", "mediapipe"):
        from streamer.detectors.mediapipe_mesh import REFINE_LANDMARKS, MediaPipeDetector

        return MediaPipeDetector(mode=mode, max_faces=max_faces, refine=REFINE_LANDMARKS if refine is None else refine)
    if name == "fan":
        from streamer.detectors.fan import FanDetector

        return FanDetector(max_faces=max_faces)
    raise InputError(f"unknown landmark detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")


__all__ = ["DETECTOR_NAMES", "DetectorMode", "LandmarkDetector", "create_detector"]
