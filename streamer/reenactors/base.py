"""The reenactor contract shared by the geometric warp and the trained generators."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from streamer.landmarks import FaceLandmarks


class Reenactor(Protocol):
    """Draws the source face with a driver frame's pose and expression, in the source crop.

    ``prepare`` gets the aligned source crop (BGR uint8, ``crop_size`` square) and the source's
    landmarks in crop coordinates; ``step`` gets the driver's landmarks for the current frame and
    its reference frame (driver image coordinates) and returns the reenacted crop (BGR uint8).
    """

    crop_size: int

    def prepare(self, source_crop: np.ndarray, source_landmarks: FaceLandmarks) -> Any:
        """Per-source work, done once; returns the state ``step`` needs."""
        ...

    def step(self, state: Any, driver: FaceLandmarks, reference: FaceLandmarks) -> np.ndarray:
        """Per-frame work: the reenacted crop."""
        ...
