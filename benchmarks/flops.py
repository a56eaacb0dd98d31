"""Parameter and FLOP counts of networks: ``FlopCounterMode`` plus a hand count for ``grid_sample``.

``FlopCounterMode`` counts matmuls and convolutions as 2 FLOPs per multiply-accumulate and nothing
else: no elementwise ops, normalisations, pooling, ``interpolate`` and no ``grid_sample``. Our warps
and the RFG's feature/pixel warps are ``grid_sample``, so we count it by hand, per output point, in
the same multiply-accumulate convention:

- per channel: 4 taps, each 1 multiply (by its weight) and 1 add = ``GRID_SAMPLE_FLOPS_PER_VALUE`` (8);
- shared by all channels: about 10 FLOPs for the bilinear weights (unnormalise x and y, their
  fractional parts, 1 - fx, 1 - fy and the four corner products) = ``GRID_SAMPLE_FLOPS_PER_POINT`` (10).

So a bilinear sample of C channels costs 8 C + 10 FLOPs per output point (34 for BGR). The other
uncounted ops (activations, AdaIN/instance norm, pooling, upsampling) are cheap next to the convs
and are left out, as torch leaves them out: the totals are a lower bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

GRID_SAMPLE_FLOPS_PER_VALUE = 8
GRID_SAMPLE_FLOPS_PER_POINT = 10


def grid_sample_flops(batch: int, channels: int, out_h: int, out_w: int) -> int:
    """Hand count of a bilinear 2-D ``grid_sample``: (8 C + 10) per output point (see the module docstring)."""
    return batch * out_h * out_w * (GRID_SAMPLE_FLOPS_PER_VALUE * channels + GRID_SAMPLE_FLOPS_PER_POINT)


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


def count_used_params(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Parameters of the submodules one forward on ``inputs`` actually calls (each counted once).

    A deployed part can wrap a whole network and use only some of it (the RFG's per-source part
    holds the generator but runs only its encoders); ``count_params`` would count all of it.
    """
    called: dict[int, nn.Module] = {}

    def record(mod: nn.Module, args: tuple) -> None:  # returns None: a pre-hook's result would replace the inputs
        called.setdefault(id(mod), mod)

    hooks = [m.register_forward_pre_hook(record) for m in module.modules()]
    try:
        with torch.inference_mode():
            module(*inputs)
    finally:
        for h in hooks:
            h.remove()
    seen: set[int] = set()
    total = 0
    for mod in called.values():
        for p in mod.parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


def count_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs of one forward of ``module`` on ``inputs`` (convs/matmuls by torch, grid_sample by hand)."""
    return flop_breakdown(module, *inputs)["total"]


def flop_breakdown(module: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    """FLOPs of one forward: ``total`` and the hand-counted ``grid_sample`` part of it."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping=_hand_counted_ops())
    with counter, torch.inference_mode():
        module(*inputs)
    by_op = counter.get_flop_counts().get("Global", {})
    hand = {str(op) for op in _hand_counted_ops()}
    grid = sum(n for op, n in by_op.items() if str(op) in hand)
    return {"total": int(counter.get_total_flops()), "grid_sample": int(grid)}


def conv2d_flops(in_ch: int, out_ch: int, kernel: int, out_h: int, out_w: int, batch: int = 1) -> int:
    """Textbook count of a Conv2d without bias: 2 x in x out x k^2 per output pixel."""
    return 2 * batch * in_ch * out_ch * kernel * kernel * out_h * out_w


def gflops(flops: float) -> float:
    """FLOPs in GFLOPs, rounded for display stability."""
    return float(f"{flops / 1e9:.6g}") if math.isfinite(flops) else flops
