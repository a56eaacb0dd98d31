"""``select_backend``: the fastest available backend per network, and why; the remap adapter."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streamer.backends.probe import Facts
from streamer.backends.select import RunnerRemap, remap_backend, select_backend
from streamer.errors import InputError

CPU_ONLY = Facts(torch_cuda_reason="torch 2.13.0+cpu is a CPU-only build")
ORT_CUDA = Facts(torch_cuda=True, ort_providers=("CUDAExecutionProvider", "CPUExecutionProvider"))
FULL_GPU = Facts(torch_cuda=True, tensorrt=True, pycuda=True, ort_providers=("CUDAExecutionProvider",))


@pytest.mark.parametrize(
    ("facts", "network", "expected"),
    [
        (FULL_GPU, "pixel_warp", "tensorrt"),
        (Facts(torch_cuda=True, torch_tensorrt=True), "pixel_warp", "torch-tensorrt"),
        (Facts(torch_tensorrt=True, torch_cuda_reason="no device"), "pixel_warp", "opencv"),
        (ORT_CUDA, "pixel_warp", "onnxruntime-cuda"),
        (Facts(torch_cuda=True), "idsg_retarget", "torch-cuda"),
        (Facts(tensorrt=True, torch_cuda_reason="no device"), "pixel_warp", "opencv"),
        (CPU_ONLY, "pixel_warp", "opencv"),
        (CPU_ONLY, "idsg_retarget", "onnxruntime"),
    ],
)
def test_auto_picks_the_fastest_available(facts, network, expected):
    choice = select_backend(network, "auto", facts)
    assert choice.name == expected
    assert network in choice.describe() and choice.reason


def test_auto_says_why_faster_ones_were_passed_over():
    choice = select_backend("pixel_warp", "auto", CPU_ONLY)
    rejected = dict(choice.rejected)
    assert "tensorrt is not installed" in rejected["tensorrt"]
    assert "torch-tensorrt is not installed" in rejected["torch-tensorrt"]
    assert "CPU-only" in rejected["torch-cuda"]


def test_unavailable_or_unknown_request_is_a_user_error():
    with pytest.raises(InputError, match="cannot run here: tensorrt is not installed"):
        select_backend("pixel_warp", "tensorrt", CPU_ONLY)
    with pytest.raises(InputError, match="cannot run here: torch-tensorrt is not installed"):
        select_backend("pixel_warp", "torch-tensorrt", CPU_ONLY)
    with pytest.raises(InputError, match="unknown backend"):
        select_backend("pixel_warp", "cuda-magic", CPU_ONLY)
    with pytest.raises(InputError, match="OpenCV only runs the pixel warp"):
        select_backend("idsg_retarget", "opencv", CPU_ONLY)


def test_requested_cpu_backend_is_kept():
    assert select_backend("pixel_warp", "onnxruntime", CPU_ONLY).name == "onnxruntime"


def test_runner_remap_matches_opencv():
    from export.registry import get_network

    net = get_network("pixel_warp")
    feeds = net.real_inputs(1)
    image = np.clip(feeds["image"][0].transpose(1, 2, 0), 0, 255).astype(np.uint8)
    map_x, map_y = feeds["pixel_map"][0, ..., 0], feeds["pixel_map"][0, ..., 1]
    ref = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    choice = select_backend("pixel_warp", "torch", CPU_ONLY)
    from streamer.backends.select import create_runner

    adapter = RunnerRemap(create_runner(choice))
    out = adapter.remap(image, map_x, map_y)
    torch_remap = remap_backend(choice).remap(image, map_x, map_y)  # streamer.backends.warp.TorchRemap
    assert np.array_equal(out, torch_remap)
    # OpenCV samples at 1/32 pixel: a few levels apart at the photo's sharpest edges, equal on average
    diff = np.abs(out.astype(int) - ref)
    assert diff.max() <= 6 and diff.mean() < 0.25
    assert remap_backend(select_backend("pixel_warp", "auto", CPU_ONLY)).name == "opencv"
    with pytest.raises(InputError, match="crops only"):
        adapter.remap(image[:64, :64], map_x[:64, :64], map_y[:64, :64])
