"""Paste-back: a reenacted crop goes back into the full frame through the inverse alignment.

The crop is blended with a feathered mask (1 inside, falling to 0 at the crop's edge), and an
optional colour correction matches the crop to the frame along the seam: the mean colour
difference in the feather band is removed from the crop, fading out toward the centre.
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


class Compositor:
    """Blends crops into frames; the mask is built once per crop size."""

    def __init__(self, crop_size: int, config: CompositorConfig | None = None):
        self.config = config or CompositorConfig()
        self.crop_size = crop_size
        self.mask = feather_mask(crop_size, self.config.feather)

    def paste(self, frame: np.ndarray, crop: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """A copy of ``frame`` with ``crop`` (aligned by ``affine``: frame -> crop) blended in."""
        h, w = frame.shape[:2]
        inv = invert_affine(affine)
        s = self.crop_size - 1
        corners = np.array([[0, 0], [s, 0], [0, s], [s, s]], np.float64) @ inv[:, :2].T + inv[:, 2]
        x0, y0 = np.floor(corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        out = frame.copy()
        if x1 <= x0 or y1 <= y0:
            return out
        local = inv.copy()
        local[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        flags = cv2.INTER_LINEAR
        warped = cv2.warpAffine(crop, local, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(self.mask, local, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)[..., None]
        region = out[y0:y1, x0:x1].astype(np.float32)
        warped = warped.astype(np.float32)
        if self.config.color_match:
            warped = _match_seam_colour(warped, region, alpha[..., 0])
        out[y0:y1, x0:x1] = np.clip(region + alpha * (warped - region) + 0.5, 0, 255).astype(np.uint8)
        return out


def _match_seam_colour(crop: np.ndarray, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Remove the crop's mean colour offset measured in the feather band (0.05 < alpha < 0.95)."""
    band = (alpha > 0.05) & (alpha < 0.95)
    if band.sum() < 16:
        return crop
    offset = (frame[band] - crop[band]).mean(axis=0)
    return crop + offset[None, None, :] * (1.0 - alpha[..., None] * 0.5)
