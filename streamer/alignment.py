"""Face alignment: a similarity transform from landmarks to a canonical square crop, and back.

Convention: affines map image pixel coordinates to crop pixel coordinates (pixel centres at
integers, OpenCV's ``warpAffine`` convention), so ``crop = cv2.warpAffine(image, M, (S, S))``.
Training (``prepare``) and inference use this one module, so their crops are the same.
"""

from __future__ import annotations

import cv2
import numpy as np

from streamer.geometry import apply_affine, invert_affine, similarity_matrix, umeyama
from streamer.landmarks import LEFT_EYE, RIGHT_EYE, FaceLandmarks

#: Five anchor points in a unit crop: right eye, left eye, nose tip, mouth corners (image order).
#: The face spans about half the crop, leaving room for hair, head turns and a feathered seam.
CANONICAL_ANCHORS = np.array([[0.385, 0.425], [0.615, 0.425], [0.5, 0.555], [0.405, 0.665], [0.595, 0.665]], np.float64)


def anchor_points(points: np.ndarray) -> np.ndarray:
    """(5, 2) anchors of a 68-point face in the order of ``CANONICAL_ANCHORS``."""
    xy = np.asarray(points, np.float64)[:, :2]
    return np.stack([xy[RIGHT_EYE].mean(0), xy[LEFT_EYE].mean(0), xy[30], xy[48], xy[54]])


def crop_transform(face: FaceLandmarks, size: int = 256) -> np.ndarray:
    """2x3 similarity taking image pixels to the canonical ``size`` x ``size`` crop."""
    target = CANONICAL_ANCHORS * size - 0.5
    scale, rot, trans = umeyama(anchor_points(face.points), target)
    return similarity_matrix(scale, rot, trans)


def crop_image(
    image: np.ndarray, affine: np.ndarray, size: int = 256, border: int = cv2.BORDER_REPLICATE
) -> np.ndarray:
    """Warp an image into the crop (bilinear; outside the image, ``border``: edge pixels replicated by
    default, as the driver crops and the CUDA crop kernel do)."""
    return cv2.warpAffine(
        image, np.asarray(affine, np.float64), (size, size), flags=cv2.INTER_LINEAR, borderMode=border
    )


def crop_to_image_points(affine: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Map crop coordinates back to image coordinates."""
    return apply_affine(invert_affine(affine), xy)


def transform_scale(affine: np.ndarray) -> float:
    """Isotropic scale factor of a 2x3 similarity."""
    a = np.asarray(affine, np.float64)
    return float(np.sqrt(abs(np.linalg.det(a[:, :2]))))
