"""PixelMapWarp: resample an image at per-pixel source coordinates (``cv2.remap`` as a network).

It is the geometric reenactor's per-frame computation in a form torch, onnxruntime and TensorRT can
all run (4-D ``grid_sample`` only, or its gather form: ``streamer.models.sampling``), and the warping
step the trained generators build on.
"""

from __future__ import annotations

import torch
from torch import nn

from streamer.models.sampling import bilinear_sample


class PixelMapWarp(nn.Module):
    """``out[:, :, y, x] = image[:, :, map[y, x, 1], map[y, x, 0]]`` with bilinear sampling.

    Convention: ``pixel_map`` holds source pixel coordinates (x, y), pixel centres at integers;
    samples outside the image take the nearest edge pixel (OpenCV's ``BORDER_REPLICATE``).
    Shapes: image (N, C, H, W) float, pixel_map (N, Ho, Wo, 2) float -> (N, C, Ho, Wo).
    """

    def forward(self, image: torch.Tensor, pixel_map: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        grid = torch.stack((pixel_map[..., 0] * (2.0 / (w - 1)), pixel_map[..., 1] * (2.0 / (h - 1))), dim=-1) - 1.0
        return bilinear_sample(image, grid)
