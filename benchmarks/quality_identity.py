"""Face embeddings for the identity metric: dlib's ResNet face recogniser (``pip install '.[quality]'``).

The weights ship inside the ``face-recognition-models`` package (no download at run time); ``dlib`` comes
as the prebuilt ``dlib-bin`` wheel. The package's ``__init__`` imports ``pkg_resources``, which recent
setuptools no longer has, so its model folder is found through the import system without importing it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
INSTALL_HINT = "pip install '.[quality]' (dlib-bin and face-recognition-models)"


@dataclass(frozen=True)
class EmbedderStatus:
    """Whether the identity embedder can run here, and if not, why."""

    available: bool
    detail: str


def _models_dir() -> Path | None:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def embedder_status() -> EmbedderStatus:
    """Checks dlib and the model files without loading them."""
    if importlib.util.find_spec("dlib") is None:
        return EmbedderStatus(False, f"dlib is not installed; {INSTALL_HINT}")
    models = _models_dir()
    if models is None:
        return EmbedderStatus(False, f"face-recognition-models is not installed; {INSTALL_HINT}")
    missing = [m for m in (RECOGNITION_MODEL, SHAPE_MODEL) if not (models / m).is_file()]
    if missing:
        return EmbedderStatus(False, f"{', '.join(missing)} missing from {models}")
    import dlib

    return EmbedderStatus(True, f"dlib {dlib.__version__} {RECOGNITION_MODEL} (128-d), aligned by {SHAPE_MODEL}")


class DlibFaceEmbedder:
    """128-d dlib face descriptors of a face in a BGR image, given a box around it.

    The box (from our landmarks) stands in for dlib's face detector; dlib's 5-point shape predictor
    then aligns the 150x150 chip the network sees, as ``face_recognition.face_encodings`` does.
    """

    def __init__(self) -> None:
        status = embedder_status()
        if not status.available:
            raise RuntimeError(status.detail)
        import dlib

        models = _models_dir()
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(models / SHAPE_MODEL))
        self._net = dlib.face_recognition_model_v1(str(models / RECOGNITION_MODEL))
        self.detail = status.detail

    def embed(self, image_bgr: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(128,) descriptor of the face whose landmarks (68, 2+) are ``points``."""
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        xy = np.asarray(points, np.float64)[:, :2]
        x0, y0 = np.floor(xy.min(axis=0)).astype(int)
        x1, y1 = np.ceil(xy.max(axis=0)).astype(int)
        box = self._dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = self._shape(rgb, box)
        return np.asarray(self._net.compute_face_descriptor(rgb, shape), np.float64)
