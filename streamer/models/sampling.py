"""Bilinear resampling for the networks: ``grid_sample`` or the same sum of four gathers.

Every network resamples with bilinear interpolation, border (edge) padding and ``align_corners=True``.
Two implementations give the same numbers (to float rounding):

* ``grid_sample``: ``torch.nn.functional.grid_sample``. Fastest in torch, exported as ONNX ``GridSample``,
  which TensorRT runs as a native layer. The default, and what training uses.
* ``gather``: the four neighbours read with ``torch.gather`` (ONNX ``GatherElements``) and blended by
  hand. Written by hand because onnxruntime's CPU ``GridSample`` kernel is scalar per output element:
  measured on this project's 2-core CPU at 1 thread, 3x256x256 took 6.3 ms as ``GridSample`` and 1.6 ms
  as gathers; 32x64x64, 2.7 vs 0.65 ms. The onnxruntime CPU graphs are exported with it.

Choose with ``with sampler("gather"): ...`` around an export (or any call); the choice is a context
variable, so concurrent exports in other threads are unaffected.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads where sampling runs: ``reenact``'s parser lists SAMPLERS on every start
    import torch

SAMPLERS = ("grid_sample", "gather")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("reenact_sampler", default="grid_sample")


@contextlib.contextmanager
def sampler(name: str) -> Iterator[None]:
    """Use the ``name`` implementation (one of ``SAMPLERS``) for ``bilinear_sample`` inside the block."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}")
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def current_sampler() -> str:
    """The implementation ``bilinear_sample`` uses here."""
    return _current.get()


def bilinear_sample(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``grid_sample(image, grid, bilinear, padding_mode="border", align_corners=True)``, by the current sampler.

    image (N, C, H, W), grid (N, Ho, Wo, 2) with (x, y) in [-1, 1] -> (N, C, Ho, Wo).
    """
    import torch.nn.functional as F

    if _current.get() == "gather":
        return gather_bilinear(image, grid)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def gather_bilinear(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling with border padding and aligned corners from four gathers (see the module doc).

    Border padding clamps the source coordinate into [0, W-1] x [0, H-1]; the left/top neighbour is
    clamped to W-2/H-2 so that a coordinate on the last pixel reads it with weight 1 (needs H, W >= 2).
    fp32 only in practice: in fp16 a coordinate near 255 is off by up to 1/16 pixel (use ``grid_sample``).
    """
    import torch

    n, c, h, w = image.shape
    gh, gw = grid.shape[1], grid.shape[2]
    x = ((grid[..., 0] + 1.0) * (0.5 * (w - 1))).clamp(0.0, w - 1.0)
    y = ((grid[..., 1] + 1.0) * (0.5 * (h - 1))).clamp(0.0, h - 1.0)
    x0 = x.floor().clamp(max=w - 2.0)
    y0 = y.floor().clamp(max=h - 2.0)
    fx = (x - x0).unsqueeze(1)
    fy = (y - y0).unsqueeze(1)
    index = (y0.to(torch.int64) * w + x0.to(torch.int64)).reshape(n, 1, gh * gw).expand(n, c, gh * gw)
    flat = image.reshape(n, c, h * w)

    def at(offset: int) -> torch.Tensor:
        return torch.gather(flat, 2, index + offset).reshape(n, c, gh, gw)

    top_left, top_right, bottom_left, bottom_right = at(0), at(1), at(w), at(w + 1)
    top = top_left + (top_right - top_left) * fx
    bottom = bottom_left + (bottom_right - bottom_left) * fx
    return top + (bottom - top) * fy
