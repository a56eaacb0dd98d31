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
    #: (r0, r1, c0, c1), box-local, half-open: a rectangle where alpha is exactly 1 and beta exactly 0, so
    #: the blend there is the crop itself and only the four strips around it need ``blendLinear``
    inner: tuple[int, int, int, int]


def _inner_rect(full: np.ndarray) -> tuple[int, int, int, int]:
    """A large axis-aligned rectangle (r0, r1, c0, c1), half-open, inside the True area of ``full``.

    Grown row by row from the middle row: each added row narrows the column range to what every row
    so far covers; the tallest-times-widest range wins. The True area here is a (rotated) square, for
    which this finds the largest centred rectangle; (0, 0, 0, 0) when there is none.
    """
    h = full.shape[0]
    any_row = full.any(axis=1)
    first = np.where(any_row, full.argmax(axis=1), 0)
    last = np.where(any_row, full.shape[1] - full[:, ::-1].argmax(axis=1), 0)  # exclusive
    mid = h // 2
    if not any_row[mid]:
        return (0, 0, 0, 0)
    best, lo, hi = (0, 0, 0, 0), -1, 10**9
    for k in range(min(mid, h - 1 - mid) + 1):
        rows = slice(mid - k, mid + k + 1)
        if not any_row[rows].all():
            break
        lo, hi = max(lo, int(first[rows].max())), min(hi, int(last[rows].min()))
        if hi <= lo:
            break
        if (2 * k + 1) * (hi - lo) > (best[1] - best[0]) * (best[3] - best[2]):
            best = (mid - k, mid + k + 1, lo, hi)
    r0, r1, c0, c1 = best
    # Rows with gaps (not a convex area) would put False pixels inside: then blend everything instead.
    return best if full[r0:r1, c0:c1].all() else (0, 0, 0, 0)


def _strips(h: int, w: int, inner: tuple[int, int, int, int]) -> list[tuple[slice, slice]]:
    """The box minus ``inner``: top, bottom, left and right strips (empty ones left out)."""
    r0, r1, c0, c1 = inner
    if r1 <= r0 or c1 <= c0:
        return [(slice(0, h), slice(0, w))]
    parts = [(slice(0, r0), slice(0, w)), (slice(r1, h), slice(0, w))]
    parts += [(slice(r0, r1), slice(0, c0)), (slice(r0, r1), slice(c1, w))]
    return [(r, c) for r, c in parts if r.stop > r.start and c.stop > c.start]


def _make_footprint(mask: np.ndarray, frame_hw: tuple[int, int], affine: np.ndarray) -> _Footprint | None:
    """Where a crop with feather ``mask`` lands in a frame of ``frame_hw`` under ``affine`` (frame -> crop);
    None when it misses the frame."""
    h, w = frame_hw
    inv = invert_affine(affine)
    s = mask.shape[0] - 1
    corners = np.array([[0, 0], [s, 0], [0, s], [s, s]], np.float64) @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    local = inv.copy()
    local[:, 2] -= (x0, y0)
    alpha = cv2.warpAffine(mask, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    beta = (1.0 - alpha).astype(np.float32)
    band = ((alpha > 0.05) & (alpha < 0.95)).astype(np.uint8)
    inner = _inner_rect((alpha == 1.0) & (beta == 0.0))
    return _Footprint((x0, y0, x1, y1), local, alpha, beta, band, inner)


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
        footprint = _make_footprint(self.mask, frame_shape[:2], affine)
        self._cached = (key[0], key[1], footprint)
        return footprint

    def paste(self, frame: np.ndarray, crop: np.ndarray, affine: np.ndarray) -> np.ndarray:
        """A copy of ``frame`` with ``crop`` (aligned by ``affine``: frame -> crop) blended in."""
        return self.bind(frame, affine).paste(crop)

    def bind(self, frame: np.ndarray, affine: np.ndarray) -> BoundPaste:
        """Paste-back into one fixed ``frame`` (e.g. the source photo, every driver frame): what depends
        only on the frame and the alignment is computed here, once. ``frame`` must not change while the
        result is in use."""
        return BoundPaste(frame, self._footprint(frame.shape, affine), self.config.color_match)


class BoundPaste:
    """``Compositor.paste`` into one fixed BGR frame (``Compositor.bind``): the frame's seam colour is
    measured once. Same output as ``Compositor.paste``, to the bit (tests/test_compositor.py)."""

    def __init__(self, frame: np.ndarray, footprint: _Footprint | None, color_match: bool):
        self._frame, self.fp = frame, footprint
        self._frame_mean: tuple[float, ...] | None = None
        if footprint is not None and color_match and int(footprint.band.sum()) >= 16:
            x0, y0, x1, y1 = footprint.box
            self._frame_mean = cv2.mean(frame[y0:y1, x0:x1], footprint.band)

    def paste(self, crop: np.ndarray) -> np.ndarray:
        """A copy of the frame with ``crop`` blended in."""
        out = self._frame.copy()
        fp = self.fp
        if fp is None:
            return out
        x0, y0, x1, y1 = fp.box
        region = out[y0:y1, x0:x1]
        warped = cv2.warpAffine(
            crop, fp.local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        if self._frame_mean is not None:
            # Remove the crop's mean colour offset, measured in the feather band, from the whole crop.
            offset = np.subtract(self._frame_mean, cv2.mean(warped, fp.band))
            warped = cv2.add(warped, offset, dtype=cv2.CV_8U)
        # Blend only around the inner rectangle; inside it the blend is the crop itself (alpha 1, beta 0).
        r0, r1, c0, c1 = fp.inner
        for rows, cols in _strips(y1 - y0, x1 - x0, fp.inner):
            region[rows, cols] = cv2.blendLinear(
                warped[rows, cols], region[rows, cols], fp.alpha[rows, cols], fp.beta[rows, cols]
            )
        region[r0:r1, c0:c1] = warped[r0:r1, c0:c1]
        return out
