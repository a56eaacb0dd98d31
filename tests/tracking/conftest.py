"""Fixtures for the tracker tests (the bundled photo comes from ``tests/conftest.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from benchmarks import tracking_synth as S

SHARED = Path(os.environ.get("REENACT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a skip saying it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the shared real data ({SHARED} is absent; set REENACT_SHARED_DATA)")
    return SHARED


@pytest.fixture(scope="session")
def plain_detector():
    """MediaPipe in image mode without its lip/eye refinement: the temporal tracker's detector."""
    from streamer.detectors.mediapipe_mesh import MediaPipeDetector

    det = MediaPipeDetector("image", max_faces=5, refine=False)
    yield det
    det.close()


@pytest.fixture(scope="session")
def make_clip(astronaut: np.ndarray, plain_detector):
    """``make_clip(kind, length)``: a synthetic clip of the astronaut with its truth set, both from the
    plain mesh that the temporal tracker runs on (``streamer.tracking.TEMPORAL_REFINE``)."""
    astronaut_face = plain_detector.detect(astronaut)[0]
    image_detector = plain_detector

    def make(kind: str, length: int, **changes) -> S.Sequence:
        seq = S.make_sequence(kind, astronaut, astronaut_face, None, length)
        base = image_detector.detect(seq.base)[0]
        seq = S.with_truth(seq, base.xy.astype(np.float64))
        if changes:
            from dataclasses import replace

            seq = replace(seq, **changes)
        return seq

    return make
