"""FAN 3D landmarks through the face-alignment package (the detector of the DG paper).

face-alignment downloads its weights on first use; this product never downloads at run time, so
we look for the files in torch hub's checkpoint folder first and, when they are missing, say which
files to put where. Install with ``pip install 'reenact[fan]'``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np

from streamer.errors import InputError
from streamer.landmarks import FaceLandmarks
from streamer.pose import visibility_from_landmarks


def _required_weight_urls() -> list[str]:
    """The URLs face-alignment would fetch for 3D landmarks (read from the installed package)."""
    from face_alignment import api
    from face_alignment.detection.sfd import sfd_detector

    version = getattr(api, "default_model_urls", None)
    urls_by_version = getattr(api, "models_urls", {})
    network_urls = urls_by_version.get(api.__dict__.get("__version__", ""), version) or version or {}
    urls = [network_urls["3DFAN-4"], network_urls["depth"]]
    urls.append(sfd_detector.models_urls["s3fd"])
    return urls


def fan_weights_status() -> tuple[bool, str]:
    """(ready, message): whether face-alignment and its 3D weights are present, and what is missing."""
    try:
        import torch

        urls = _required_weight_urls()
    except ImportError:
        return False, "face-alignment is not installed: pip install 'reenact[fan]'"
    except (AttributeError, KeyError) as exc:  # a face-alignment release with another layout
        return False, f"unrecognised face-alignment release ({exc}); use --landmarks mediapipe"
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    missing = [u for u in urls if not (folder / os.path.basename(urlparse(u).path)).is_file()]
    if missing:
        names = ", ".join(os.path.basename(urlparse(u).path) for u in missing)
        return False, f"FAN weights missing: put {names} into {folder} (from {', '.join(missing)})"
    return True, f"FAN weights found in {folder}"


class FanDetector:
    """face-alignment's S3FD + 3D-FAN, used only when its weights are already on disk."""

    name = "fan"

    def __init__(self, max_faces: int = 1, device: str = "cpu"):
        ready, message = fan_weights_status()
        if not ready:
            raise InputError(message)
        import face_alignment

        kind = getattr(face_alignment.LandmarksType, "THREE_D", None) or face_alignment.LandmarksType._3D
        self._fa = face_alignment.FaceAlignment(kind, device=device, flip_input=False)
        self._max_faces = max_faces

    def detect(self, image_bgr: np.ndarray) -> list[FaceLandmarks]:
        """All faces, largest first (z in pixels, oriented away from the camera)."""
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)  # a strided ::-1 copy costs ~10 ms on 720p, this ~1
        found = self._fa.get_landmarks_from_image(rgb, return_bboxes=True)
        preds, _, boxes = found if isinstance(found, tuple) else (found, None, None)
        faces = []
        for i, pts in enumerate(preds or []):
            pts = np.asarray(pts, np.float32)
            # Ours: z grows away from the camera. Orient FAN's depth by geometry rather than by its
            # sign convention: the nose tip is nearer the camera than the jaw contour.
            if pts[30, 2] > pts[:17, 2].mean():
                pts[:, 2] = -pts[:, 2]
            score = float(boxes[i][4]) if boxes is not None and len(boxes[i]) > 4 else 1.0
            faces.append(FaceLandmarks(pts, visibility_from_landmarks(pts), None, score))
        faces.sort(key=lambda f: -f.size)
        return faces[: self._max_faces]

    def close(self) -> None:
        """Nothing native to release."""
