"""Warp backends as the bench sees them: a factory per name, or the reason it cannot run here.

A new backend (TensorRT, a CUDA kernel) is one entry in ``WARP_BACKEND_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.machine import Availability, cuda_availability, tensorrt_availability
from streamer.backends.warp import RemapBackend, create_remap_backend


class RecordingRemap:
    """Delegates to another backend and keeps the (image, map_x, map_y) of each call: real warp inputs."""

    name = "recording"

    def __init__(self, inner: RemapBackend):
        self.inner = inner
        self.calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def remap(self, image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        self.calls.append((image, map_x.copy(), map_y.copy()))
        return self.inner.remap(image, map_x, map_y)


class TorchCudaRemap:
    """``PixelMapWarp`` on the GPU, host arrays in and out (so transfers are in the time)."""

    name = "torch-cuda"

    def __init__(self) -> None:
        import torch

        from streamer.models.pixel_warp import PixelMapWarp

        self._torch = torch
        self._net = PixelMapWarp().eval().cuda()

    def remap(self, image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            img = torch.from_numpy(image).cuda().permute(2, 0, 1)[None].float()
            pm = torch.from_numpy(np.stack([map_x, map_y], axis=-1)[None]).cuda().float()
            out = self._net(img, pm)[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        return out


def _available() -> Availability:
    return Availability(True, "")


def _tensorrt(threads: int) -> RemapBackend:
    import importlib

    from benchmarks.machine import TENSORRT_FACTORY, TENSORRT_MODULE

    return getattr(importlib.import_module(TENSORRT_MODULE), TENSORRT_FACTORY)(threads)


#: name -> (availability check, factory taking the compute thread count)
WARP_BACKEND_FACTORIES: dict[str, tuple[Callable[[], Availability], Callable[[int], RemapBackend]]] = {
    "opencv": (_available, lambda threads: create_remap_backend("opencv")),
    "torch": (_available, lambda threads: create_remap_backend("torch")),
    "onnxruntime": (_available, lambda threads: create_remap_backend("onnxruntime", threads)),
    "torch-cuda": (cuda_availability, lambda threads: TorchCudaRemap()),
    "tensorrt": (tensorrt_availability, _tensorrt),
}

#: Backends whose speed does not depend on our CPU thread setting (measured once).
THREAD_INDEPENDENT = ("torch-cuda", "tensorrt")


def backend_names(requested: tuple[str, ...]) -> list[str]:
    """The requested backends, plus ``torch-cuda`` when torch is requested and CUDA is present."""
    names = [n for n in requested if n in WARP_BACKEND_FACTORIES]
    if "torch" in names and "torch-cuda" not in names and cuda_availability().available:
        names.append("torch-cuda")
    return names


def availability(name: str) -> Availability:
    """Whether backend ``name`` can run here."""
    return WARP_BACKEND_FACTORIES[name][0]()


def make_backend(name: str, threads: int) -> RemapBackend:
    """Backend ``name`` set up for ``threads`` compute threads."""
    return WARP_BACKEND_FACTORIES[name][1](threads)
