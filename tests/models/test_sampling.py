"""The two bilinear samplers (streamer.models.sampling) against torch's grid_sample and in ONNX."""

from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from streamer.models.sampling import SAMPLERS, bilinear_sample, current_sampler, gather_bilinear, sampler


def _reference(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _grid(n: int, h: int, w: int, spread: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, h, w, 2, generator=g) * 2 - 1) * spread


@pytest.mark.parametrize(("shape", "out", "spread"), [((2, 3, 17, 23), (9, 31), 1.0), ((1, 32, 64, 64), (64, 64), 1.3)])
def test_gather_matches_grid_sample(shape, out, spread):
    """Inside the image and beyond its border (edge padding), non-square images and grids."""
    image = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    grid = _grid(shape[0], *out, spread, seed=2)
    torch.testing.assert_close(gather_bilinear(image, grid), _reference(image, grid), atol=1e-5, rtol=1e-5)


def test_gather_on_pixel_centres_and_corners():
    """Exact pixel centres read the pixel itself, the last row/column included (weight 1, not 0)."""
    image = torch.arange(2 * 4 * 5, dtype=torch.float32).reshape(1, 2, 4, 5)
    xs = torch.linspace(-1, 1, 5)
    ys = torch.linspace(-1, 1, 4)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack((gx, gy), dim=-1)[None]
    torch.testing.assert_close(gather_bilinear(image, grid), image)
    corner = torch.tensor([[[[1.0, 1.0], [5.0, -7.0]]]])  # bottom-right corner; far outside (clamped)
    torch.testing.assert_close(gather_bilinear(image, corner), _reference(image, corner))


def test_gather_gradients_match():
    image = torch.randn(1, 3, 8, 9, requires_grad=True)
    grid = _grid(1, 5, 6, 0.9, seed=3).requires_grad_(True)
    ga = torch.autograd.grad(gather_bilinear(image, grid).square().sum(), (image, grid))
    gb = torch.autograd.grad(_reference(image, grid).square().sum(), (image, grid))
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_sampler_context_selects_and_restores():
    image, grid = torch.randn(1, 1, 6, 6), _grid(1, 3, 3, 1.0, seed=4)
    assert current_sampler() == "grid_sample"
    with sampler("gather"):
        assert current_sampler() == "gather"
        torch.testing.assert_close(bilinear_sample(image, grid), _reference(image, grid), atol=1e-6, rtol=1e-6)
    with pytest.raises(RuntimeError), sampler("gather"):
        raise RuntimeError("inside")
    assert current_sampler() == "grid_sample"
    with pytest.raises(ValueError, match="unknown sampler"), sampler("nearest"):
        pass
    assert SAMPLERS == ("grid_sample", "gather")


class _Warp(torch.nn.Module):
    def forward(self, image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return bilinear_sample(image, grid)


@pytest.mark.parametrize("name", SAMPLERS)
def test_each_sampler_exports_and_runs_in_onnxruntime(name):
    """GridSample or GatherElements in the graph; onnxruntime's result equals torch's grid_sample."""
    image = torch.randn(1, 3, 32, 40)
    grid = _grid(1, 24, 20, 1.2, seed=5)
    buf = io.BytesIO()
    with sampler(name):
        torch.onnx.export(_Warp(), (image, grid), buf, input_names=["i", "g"], opset_version=18, dynamo=False)
    ops = {n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node}
    assert ("GridSample" in ops) == (name == "grid_sample")
    assert ("GatherElements" in ops) == (name == "gather")
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"i": image.numpy(), "g": grid.numpy()})[0]
    np.testing.assert_allclose(out, _reference(image, grid).numpy(), atol=1e-5)
