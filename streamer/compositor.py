"""Paste-back: a reenacted crop goes back into the full frame through the inverse alignment.

The crop is blended with a feathered mask (1 inside, falling to 0 at the crop's edge), and an
optional colour correction matches the crop to the frame along the seam: the mean colour
difference measured in the feather band is removed from the whole crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from streamer.geometry import invert_affine


@dataclass(frozen=True)
class CompositorConfig:
    """Feather width as a fraction of the crop side, and whether to colour-match at the seam."""

    feather: float = 0.12
    color_match: bool = True


def feather_mask(size: int, feather: float) -> np.ndarray:
    """(size, size) float32 mask: 1 in the middle, a smooth ramp to 0 over ``feather * size`` at the edges."""
    width = max(feather * size, 1.0)
    idx = np.arange(size, dtype=np.float32)
    edge = np.minimum(idx, size - 1 - idx)
    ramp = np.clip((edge - 1.0) / width, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: no visible kink at the ramp's ends
    return np.minimum(ramp[:, None], ramp[None, :])


@dataclass(frozen=True)
class _Footprint:
    """Where a crop lands in a frame: the bounding box, the local affine and the warped mask."""

    box: tuple[int, int, int, int]
    local: np.ndarray  # crop -> box-local frame coordinates
    alpha: np.ndarray  # (h, w) float32: weight of the crop
    beta: np.ndarray  # (h, w) float32: 1 - alpha, weight of the frame
    band: np.ndarray  # (h, w) uint8: the feather band, where seam colours are compared


class Compositor:
    """Blends crops into frames; the mask is built once per crop size and warped once per alignment."""

    def __init__(self, crop_size: int, config: CompositorConfig | None = None):
        self.config = config or CompositorConfig()
        self.crop_size = crop_size
        self.mask = feather_mask(crop_size, self.config.feather)
        self._cached: tuple[bytes, tuple[int, int], _Footprint | None] | None = None

    def _footprint(self, frame_shape: tuple[int, ...], affine: np.ndarray) -> _Footprint | None:
        key = (np.asarray(affine, np.float64).tobytes(), frame_shape[:2])
        if self._cached is not None and self._cached[:2] == key:
            return self._cached[2]
        h, w = frame_shape[:2]
        inv = invert_affine(affine)
        s = self.crop_size - 1
        corners = np.array([[0, 0], [s, 0], [0, s], [s, s]], np.float64) @ inv[:, :2].T + inv[:, 2]
        x0, y0 = np.floor(corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        footprint = None
        if x1 > x0 and y1 > y0:
            local = inv.copy()
            local[:, 2] -= (x0, y0)
            alpha = cv2.warpAffine(
                self.mask, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
            band = ((alpha > 0.05) & (alpha < 0.95)).astype(np.uint8)
            footprint = _Footprint((x0, y0, x1, y1), local, alpha, (1.0 - alpha).astype(np.float32), band)
        self._cached = (key[0], key[1], footprint)
        return footprint

    def paste(self, frame: np.ndarray, crop: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """A copy of ``frame`` with ``crop`` (aligned by ``affine``: frame -> crop) blended in."""
        out = frame.copy()
        fp = self._footprint(frame.shape, affine)
        if fp is None:
            return out
        x0, y0, x1, y1 = fp.box
        region = out[y0:y1, x0:x1]
        warped = cv2.warpAffine(
            crop, fp.local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        if self.config.color_match and int(fp.band.sum()) >= 16:
            # Remove the crop's mean colour offset, measured in the feather band, from the whole crop.
            offset = np.subtract(cv2.mean(region, fp.band), cv2.mean(warped, fp.band))
            warped = cv2.add(warped, offset, dtype=cv2.CV_8U)
        out[y0:y1, x0:x1] = cv2.blendLinear(warped, region, fp.alpha, fp.beta)
        return out
