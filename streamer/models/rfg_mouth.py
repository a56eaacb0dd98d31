"""The RFG's mouth guard input: the target's inner-lip polygon, feathered, at crop size.

Why (issue 17, ``streamer/models/weights/RFG.md``): the trained RFG's blend mask drops inside the mouth
opening, and there its decoder paints a blurred, lip-coloured guess of the interior. On a wide-open
driver mouth that guess reads as lips closing (dlib's inner-lip gap fell to about half of the base's),
so the default generator followed the driver's mouth less than the plain warp. The geometric base
draws the interior from the target's inner-lip polygon itself (cavity, the source's teeth), so it is
the one input that knows how far the mouth opens. The global integrator takes this map as its
``mouth`` input and raises its blend mask to it (``RFGGenerator.frame``): inside the opening the
output is the base, carried by the learned residual flow like the lips around it. The map is made on
the host with the other per-frame inputs, so every backend (torch, onnxruntime, TensorRT, the device
frame path) runs the same graph.
"""

from __future__ import annotations

import cv2
import numpy as np

from streamer.landmarks import INNER_LIPS, LEFT_EYE, RIGHT_EYE, inner_lip_gap

#: Sub-pixel bits of the polygon fill (OpenCV ``shift``).
_SHIFT = 4
#: Gaussian feather of the polygon's edge (px at 256): the lips around the opening stay the network's.
_FEATHER_SIGMA = 1.0
#: Margin (px) around the polygon's bounding box that the feather may reach.
_MARGIN = 4
#: A mean inner-lip gap (px) under this is a closed mouth: no map (an anti-aliased fill of the
#: collapsed polygon would still mark the line where the lips meet).
MIN_GAP_PX = 1.0


def mouth_input(points: np.ndarray, crop_size: int) -> np.ndarray:
    """(1, S, S) float32 map in [0, 1]: the feathered inner-lip polygon of ``points`` ((68, >=2) crop
    pixels); zero where the mouth is closed (mean inner-lip gap under ``MIN_GAP_PX``) or off the crop."""
    out = np.zeros((1, crop_size, crop_size), np.float32)
    pts = np.asarray(points, np.float64)[:, :2]
    if inner_lip_gap(pts) < MIN_GAP_PX:
        return out
    _fill_polygon(out[0], pts[INNER_LIPS])
    return out


def guard_input(points: np.ndarray, crop_size: int) -> np.ndarray:
    """The guard map the reenactor feeds the RFG: the open mouth (``mouth_input``) and both eye openings
    (the six-point eyelid polygons, feathered alike).

    The eyes were added after the mouth guard (issue 17): graded by dlib on the expression clips the
    RFG followed eye openness less than the plain warp on some pairs, as it had the mouth.
    """
    out = mouth_input(points, crop_size)
    pts = np.asarray(points, np.float64)[:, :2]
    for eye in (RIGHT_EYE, LEFT_EYE):
        _fill_polygon(out[0], pts[eye])
    return out


#: Pixels around a mesh warp's crack that the crack guard also keeps (px at 256), then feathered.
_CRACK_MARGIN = 3


def add_crack_guard(guard: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """``guard`` ((1, S, S), in place and returned) raised to the mesh warp's cracks: the pixels no triangle
    covered (``MeshWarp.covered`` False), grown by ``_CRACK_MARGIN`` and feathered.

    Why (issue 14): the geometric base paints a crack from its neighbours
    (``streamer.mesh_warp.fill_cracks``), but the RFG's decoder samples the source features through the
    pixel map, which there points at the photo's hair or ear edge, and drew that back into a grey slash
    on the cheek. Guarded like the open mouth, the crack shows the painted base.
    """
    hole = (~np.asarray(covered, bool)).astype(np.uint8)
    if not hole.any():
        return guard
    k = 2 * _CRACK_MARGIN + 1
    grown = cv2.dilate(hole, np.ones((k, k), np.uint8)).astype(np.float32)
    np.maximum(guard[0], cv2.GaussianBlur(grown, (0, 0), _FEATHER_SIGMA), out=guard[0])
    return guard


def _fill_polygon(out: np.ndarray, polygon: np.ndarray) -> None:
    """Fill the feathered ``polygon`` ((K, 2) crop pixels) into the (S, S) map ``out``, in place."""
    crop_size = out.shape[0]
    inner = np.asarray(polygon, np.float64)
    if not np.isfinite(inner).all():
        return
    lo = np.floor(inner.min(0)).astype(int) - _MARGIN
    hi = np.ceil(inner.max(0)).astype(int) + _MARGIN + 1
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], crop_size), min(hi[1], crop_size)
    if x1 <= x0 or y1 <= y0:
        return
    # Filled on the polygon's box only (a few hundred pixels instead of the whole crop).
    box = np.zeros((y1 - y0, x1 - x0), np.uint8)
    poly = np.round((inner - (x0, y0)) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(box, [poly], 255, cv2.LINE_AA, shift=_SHIFT)
    if box.any():
        blurred = cv2.GaussianBlur(box.astype(np.float32) * (1.0 / 255.0), (0, 0), _FEATHER_SIGMA)
        np.maximum(out[y0:y1, x0:x1], blurred, out=out[y0:y1, x0:x1])
