"""The identity embedder (optional ``quality`` extra): a clear status without it, stable descriptors with it."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from benchmarks import quality_identity as I
from benchmarks.quality_metrics import cosine_similarity


def test_status_without_dlib_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "dlib" else real(name, *a))
    status = I.embedder_status()
    assert not status.available and "pip install '.[quality]'" in status.detail
    with pytest.raises(RuntimeError, match="dlib is not installed"):
        I.DlibFaceEmbedder()


def test_descriptors_of_the_same_face_agree(astronaut, astronaut_face):
    status = I.embedder_status()
    if not status.available:
        pytest.skip(f"identity embedder not installed: {status.detail}")
    emb = I.DlibFaceEmbedder()
    a = emb.embed(astronaut, astronaut_face.points)
    assert a.shape == (128,) and np.isfinite(a).all()
    np.testing.assert_allclose(emb.embed(astronaut, astronaut_face.points), a)
    # The same face, blurred and shifted by 7 px: still the same person to dlib (distance < 0.6).
    shifted = cv2.warpAffine(cv2.GaussianBlur(astronaut, (5, 5), 1.0), np.float64([[1, 0, 7], [0, 1, 0]]),
                             astronaut.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    b = emb.embed(shifted, astronaut_face.points + [7, 0, 0])
    assert np.linalg.norm(a - b) < 0.6 and cosine_similarity(a, b) > 0.95
    # A colour-inverted image is further from the face than the shifted copy.
    c = emb.embed(255 - astronaut, astronaut_face.points)
    assert cosine_similarity(a, c) < cosine_similarity(a, b)
