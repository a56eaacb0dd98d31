"""Paste-back on a device: ``streamer.compositor.Compositor.paste`` done by the paste kernels.

The canvas goes up once per source; per frame: copy it, seam statistics, feathered paste of the
generated crop tensor (any ``TensorLayout``), optionally the I420 conversion for the encoder, and
one download. The kernels reproduce ``Compositor.paste`` bit for bit (tests/framepath).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from kernels import host
from kernels.frames import TensorLayout, chroma_shape
from streamer.compositor import CompositorConfig, feather_mask
from streamer.framepath.device import Buffer, Device

Output = Literal["bgr", "i420"]


@dataclass(frozen=True)
class DeviceCompositorConfig:
    """The host compositor's settings, and what a frame comes back as: packed BGR (h, w, 3), or
    I420 as one (h * 3 / 2, w) array (Y, then U, then V: PyAV's ``yuv420p`` ndarray layout)."""

    compositor: CompositorConfig = CompositorConfig()
    output: Output = "bgr"


class DeviceCompositor:
    """Feathered, colour-matched paste-back of device crops into a device copy of the canvas."""

    def __init__(self, device: Device, crop_size: int, config: DeviceCompositorConfig | None = None):
        self.device = device
        self.crop_size = crop_size
        self.config = config or DeviceCompositorConfig()
        self.mask = device.empty((crop_size, crop_size), np.float32)
        device.upload(self.mask, feather_mask(crop_size, self.config.compositor.feather))
        self.stats = device.empty((7,), np.uint64)
        self._stats_blocks = 8 if device.name == "cpu" else host.STATS_MAX_BLOCKS  # emulated blocks are slow
        self.canvas: Buffer | None = None
        self.region: host.PasteRegion | None = None

    def set_canvas(self, canvas: np.ndarray, affine: np.ndarray) -> None:
        """Upload the canvas (packed BGR uint8) the crops, aligned by ``affine`` (canvas -> crop), go into."""
        if canvas.ndim != 3 or canvas.shape[2] != 3 or canvas.dtype != np.uint8:
            raise ValueError(f"the canvas must be (h, w, 3) uint8 BGR, got {canvas.dtype} {canvas.shape}")
        h, w = canvas.shape[:2]
        if self.config.output == "i420" and (h % 2 or w % 2):
            raise ValueError(f"I420 output needs even canvas sizes, got {w}x{h}")
        self.canvas = self.device.empty((h, w, 3), np.uint8)
        self.device.upload(self.canvas, np.ascontiguousarray(canvas))
        self.frame = self.device.empty((h, w, 3), np.uint8)
        self.region = host.paste_region(affine, self.crop_size, w, h)
        if self.config.output == "i420":
            self.yuv = self.device.empty((h * 3 // 2, w), np.uint8)

    def canvas_pointers(self) -> host.PlanePointers:
        """The uploaded canvas as a kernel frame (e.g. for the preprocess kernel)."""
        assert self.canvas is not None, "set_canvas first"
        return self.canvas.as_bgr_frame()

    def compose(self, crop: Buffer, layout: TensorLayout) -> np.ndarray:
        """The canvas with the (1, 3, S, S) ``crop`` tensor pasted in, downloaded once."""
        if self.canvas is None:
            raise RuntimeError("set_canvas before compose")
        if crop.shape[-2:] != (self.crop_size, self.crop_size) or crop.dtype not in (np.float32, np.float16):
            raise ValueError(f"expected a float (1, 3, {self.crop_size}, {self.crop_size}) crop, got {crop.shape}")
        d, h, w = self.device, *self.canvas.shape[:2]
        d.copy(self.frame, self.canvas)
        if self.region is not None:
            half, size, pitch = crop.dtype == np.float16, self.crop_size, 3 * w
            args = (self.region, crop.ptr, self.mask.ptr, self.frame.ptr)
            stats = 0
            if self.config.compositor.color_match:
                d.zero(self.stats)
                stats = self.stats.ptr
                d.launch(host.seam_stats_launch(*args, stats, size, pitch, "bgr", half, self._stats_blocks, layout))
            d.launch(host.paste_launch(*args, stats, size, pitch, "bgr", half, layout))
        if self.config.output == "bgr":
            return d.download(self.frame)
        ch, cw = chroma_shape(h, w)
        planes = (self.yuv.ptr, self.yuv.ptr + h * w, self.yuv.ptr + h * w + ch * cw)
        out = host.PlanePointers("i420", w, h, planes, (w, cw, cw))
        d.launch(host.to_yuv420_launch(self.frame.ptr, 3 * w, "bgr", out))
        return d.download(self.yuv)
