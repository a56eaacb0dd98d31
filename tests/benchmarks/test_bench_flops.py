"""FLOP counting: torch's counter for convs, our hand count for grid_sample."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.flops import (
    GRID_SAMPLE_FLOPS_PER_POINT,
    GRID_SAMPLE_FLOPS_PER_VALUE,
    conv2d_flops,
    count_flops,
    count_params,
    grid_sample_flops,
)
from streamer.models.pixel_warp import PixelMapWarp


class _GridOnly(nn.Module):
    def forward(self, image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


class _ConvThenWarp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.warp = PixelMapWarp()

    def forward(self, image: torch.Tensor, pixel_map: torch.Tensor) -> torch.Tensor:
        return self.warp(self.conv(image), pixel_map)


class TestFlops:
    def test_conv2d_known_count(self):
        conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        assert count_flops(conv, torch.zeros(1, 3, 32, 32)) == 2 * 3 * 8 * 9 * 32 * 32
        assert conv2d_flops(3, 8, 3, 32, 32) == 2 * 3 * 8 * 9 * 32 * 32

    def test_conv2d_stride_and_batch(self):
        conv = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        assert count_flops(conv, torch.zeros(2, 16, 64, 64)) == conv2d_flops(16, 32, 3, 32, 32, batch=2)

    def test_grid_sample_hand_count(self):
        # 4 taps x C channels x (1 mul + 1 add), + 10 per point for the bilinear weights.
        assert (GRID_SAMPLE_FLOPS_PER_VALUE, GRID_SAMPLE_FLOPS_PER_POINT) == (8, 10)
        assert grid_sample_flops(1, 3, 256, 256) == 256 * 256 * 34
        image, grid = torch.zeros(2, 5, 40, 30), torch.zeros(2, 16, 20, 2)
        assert count_flops(_GridOnly(), image, grid) == 2 * 16 * 20 * (8 * 5 + 10)

    def test_pixel_warp_counts_only_its_grid_sample(self):
        image, pm = torch.zeros(1, 3, 64, 48), torch.zeros(1, 64, 48, 2)
        assert count_flops(PixelMapWarp(), image, pm) == grid_sample_flops(1, 3, 64, 48)

    def test_composite_adds_up(self):
        image, pm = torch.zeros(1, 3, 32, 32), torch.zeros(1, 32, 32, 2)
        expected = conv2d_flops(3, 4, 3, 32, 32) + grid_sample_flops(1, 4, 32, 32)
        assert count_flops(_ConvThenWarp(), image, pm) == expected

    def test_params(self):
        assert count_params(nn.Linear(4, 3)) == 15
        assert count_params(PixelMapWarp()) == 0
