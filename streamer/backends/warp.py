"""Runners for the dense remap of the geometric reenactor: OpenCV, torch or onnxruntime.

All three compute the same bilinear, edge-replicating resample (``PixelMapWarp``'s convention);
OpenCV is the fastest on a CPU and is what ``auto`` picks for this reenactor.
"""

from __future__ import annotations

import io
from typing import Protocol

import cv2
import numpy as np

from streamer.errors import InputError

REMAP_BACKENDS = ("auto", "opencv", "torch", "onnxruntime")


class RemapBackend(Protocol):
    """Resamples a BGR uint8 image at (map_x, map_y)."""

    name: str

    def remap(self, image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """The resampled image, uint8, shaped like the maps plus channels."""
        ...


class OpenCVRemap:
    """``cv2.remap`` (bilinear, replicated border)."""

    name = "opencv"

    def remap(self, image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _to_nchw(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None].astype(np.float32))


def _from_nchw(out: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(out[0].transpose(1, 2, 0)), 0, 255).astype(np.uint8)


class TorchRemap:
    """``PixelMapWarp`` in eager PyTorch on the CPU."""

    name = "torch"

    def __init__(self) -> None:
        import torch

        from streamer.models.pixel_warp import PixelMapWarp

        self._torch = torch
        self._net = PixelMapWarp().eval()

    def remap(self, image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            pm = torch.from_numpy(np.stack([map_x, map_y], axis=-1)[None].astype(np.float32))
            out = self._net(torch.from_numpy(_to_nchw(image)), pm)
        return _from_nchw(out.numpy())


def export_pixel_warp_onnx(height: int, width: int, opset: int = 18, out_size: tuple[int, int] | None = None) -> bytes:
    """ONNX bytes of ``PixelMapWarp`` for a ``height`` x ``width`` BGR image and an ``out_size`` (h, w) map,
    resampling by gathers (onnxruntime's CPU ``GridSample`` is 4x slower: ``streamer.models.sampling``)."""
    import torch

    from streamer.models.pixel_warp import PixelMapWarp
    from streamer.models.sampling import sampler

    buf = io.BytesIO()
    oh, ow = out_size or (height, width)
    args = (torch.zeros(1, 3, height, width), torch.zeros(1, oh, ow, 2))
    with sampler("gather"):
        torch.onnx.export(
            PixelMapWarp().eval(),
            args,
            buf,
            input_names=["image", "pixel_map"],
            output_names=["warped"],
            opset_version=opset,
            dynamo=False,
        )
    return buf.getvalue()


class OnnxRuntimeRemap:
    """``PixelMapWarp`` exported to ONNX (once per image size) and run by onnxruntime on the CPU."""

    name = "onnxruntime"

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort

        self._ort = ort
        self._threads = threads
        self._sessions: dict[tuple[int, ...], object] = {}

    def _session(self, h: int, w: int, oh: int, ow: int):
        if (h, w, oh, ow) not in self._sessions:
            opts = self._ort.SessionOptions()
            opts.intra_op_num_threads = self._threads
            opts.inter_op_num_threads = 1
            self._sessions[(h, w, oh, ow)] = self._ort.InferenceSession(
                export_pixel_warp_onnx(h, w, out_size=(oh, ow)), opts, providers=["CPUExecutionProvider"]
            )
        return self._sessions[(h, w, oh, ow)]

    def remap(self, image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        sess = self._session(*image.shape[:2], *map_x.shape[:2])
        pm = np.stack([map_x, map_y], axis=-1)[None].astype(np.float32)
        (out,) = sess.run(None, {"image": _to_nchw(image), "pixel_map": pm})
        return _from_nchw(out)


def create_remap_backend(name: str = "auto", threads: int = 1) -> RemapBackend:
    """The remap runner called ``name``; ``auto`` is OpenCV (fastest on CPU for this op)."""
    if name in ("auto", "opencv"):
        return OpenCVRemap()
    if name == "torch":
        return TorchRemap()
    if name == "onnxruntime":
        return OnnxRuntimeRemap(threads)
    raise InputError(f"unknown backend {name!r}; choose one of {', '.join(REMAP_BACKENDS)}")
