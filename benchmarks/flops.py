"""Parameter and FLOP counts of networks: ``FlopCounterMode`` plus a hand count for ``grid_sample``.

``FlopCounterMode`` counts matmuls and convolutions as 2 FLOPs per multiply-accumulate and nothing
else (no elementwise ops, no ``grid_sample``). Our warps are mostly ``grid_sample``, so we count it
by hand, per output pixel:

- shared by all channels: 4 FLOPs to map the normalised (x, y) to pixels (a multiply and an add
  each), 2 for the fractional parts, 2 for (1 - fx, 1 - fy) and 4 multiplies for the corner weights
  = ``GRID_SAMPLE_FLOPS_PER_PIXEL`` (12);
- per channel: 4 multiplies and 3 adds to blend the four taps = ``GRID_SAMPLE_FLOPS_PER_VALUE`` (7).

So a bilinear sample of C channels costs 12 + 7 C FLOPs per output pixel (33 for BGR).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

GRID_SAMPLE_FLOPS_PER_PIXEL = 12
GRID_SAMPLE_FLOPS_PER_VALUE = 7


def grid_sample_flops(batch: int, channels: int, out_h: int, out_w: int) -> int:
    """Hand count of a bilinear 2-D ``grid_sample`` (see the module docstring)."""
    return batch * out_h * out_w * (GRID_SAMPLE_FLOPS_PER_PIXEL + GRID_SAMPLE_FLOPS_PER_VALUE * channels)


def _grid_sampler_2d_formula(input_shape: Sequence[int], grid_shape: Sequence[int], *args, out_shape=None, **kwargs):
    n, c = input_shape[0], input_shape[1]
    _, ho, wo, _ = grid_shape
    return grid_sample_flops(n, c, ho, wo)


def _hand_counted_ops() -> dict:
    aten = torch.ops.aten
    return {aten.grid_sampler_2d: _grid_sampler_2d_formula, aten.grid_sampler: _grid_sampler_2d_formula}


def count_params(module: nn.Module) -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


def count_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs of one forward of ``module`` on ``inputs`` (convs/matmuls by torch, grid_sample by hand)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping=_hand_counted_ops())
    with counter, torch.inference_mode():
        module(*inputs)
    return int(counter.get_total_flops())


def conv2d_flops(in_ch: int, out_ch: int, kernel: int, out_h: int, out_w: int, batch: int = 1) -> int:
    """Textbook count of a Conv2d without bias: 2 x in x out x k^2 per output pixel."""
    return 2 * batch * in_ch * out_ch * kernel * kernel * out_h * out_w


def gflops(flops: float) -> float:
    """FLOPs in GFLOPs, rounded for display stability."""
    return float(f"{flops / 1e9:.6g}") if math.isfinite(flops) else flops
