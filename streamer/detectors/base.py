"""The detector contract: a BGR image in, faces (largest first) out."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from streamer.landmarks import FaceLandmarks

#: "image": every call independent (photos); "video": calls are consecutive frames of one stream.
DetectorMode = Literal["image", "video"]


class LandmarkDetector(Protocol):
    """Finds faces and their 68 landmarks in one image."""

    name: str

    def detect(self, image_bgr: np.ndarray) -> list[FaceLandmarks]:
        """All faces found, largest first; an empty list when there is none."""
        ...

    def close(self) -> None:
        """Release native resources."""
        ...
