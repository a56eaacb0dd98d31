"""What the device paste-back pastes: the generated crop as a tensor on the device.

``HostCrop``: any reenactor; its uint8 crop is uploaded and turned into a tensor by the preprocess
kernel (identity alignment, ``BGR_PIXELS``). ``RFGGlobalOnDevice``: the RFG's per-source part runs
once on the device from the uploaded canvas (preprocess kernel straight into its input), its outputs
are bound as the global integrator's inputs, and per frame only the global integrator's host-made
inputs (geometric render, pixel map, landmark map, guard map, and the revealed mask for weights that
take it) go up; the output stays on the device.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from kernels import host
from kernels.frames import BGR_PIXELS, BGR_SIGNED, TensorLayout
from streamer.framepath.compositor import DeviceCompositor
from streamer.framepath.device import Buffer, Device
from streamer.framepath.engines import DeviceEngine
from streamer.landmarks import FaceLandmarks
from streamer.pipeline import PreparedSource

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


class DeviceGenerator(Protocol):
    """Draws the reenacted crop into a device tensor in ``layout``."""

    layout: TensorLayout

    def prepare(self, source: PreparedSource, compositor: DeviceCompositor) -> None: ...

    def render(self, state: Any, driver: FaceLandmarks, reference: FaceLandmarks) -> Buffer: ...


def _upload_crop(device: Device, staging: Buffer, image: np.ndarray, out: Buffer, layout: TensorLayout) -> None:
    """Upload a (S, S, 3) uint8 BGR image and normalise it on the device into ``out`` (1, 3, S, S)."""
    size = staging.shape[0]
    device.upload(staging, np.ascontiguousarray(image))
    half = out.dtype == np.float16
    device.launch(host.preprocess_launch(staging.as_bgr_frame(), IDENTITY, out.ptr, size, half, layout=layout))


def _upload(device: Device, dst: Buffer, array: np.ndarray) -> None:
    device.upload(dst, np.ascontiguousarray(array, dst.dtype))


class HostCrop:
    """Any reenactor's crop (drawn on the host), pasted on the device."""

    layout = BGR_PIXELS

    def __init__(self, device: Device, reenactor: Any):
        self.device = device
        self.reenactor = reenactor
        size = reenactor.crop_size
        self.staging = device.empty((size, size, 3), np.uint8)
        self.tensor = device.empty((1, 3, size, size), np.float32)

    def prepare(self, source: PreparedSource, compositor: DeviceCompositor) -> None:
        """Nothing per source: the reenactor's own state is on the host."""

    def render(self, state: Any, driver: FaceLandmarks, reference: FaceLandmarks) -> Buffer:
        crop = self.reenactor.step(state, driver, reference)
        _upload_crop(self.device, self.staging, crop, self.tensor, self.layout)
        return self.tensor


class RFGGlobalOnDevice:
    """The RFG global integrator with its engines on the device (``engines``: rfg_source, rfg_global)."""

    layout = BGR_SIGNED

    def __init__(self, device: Device, reenactor: Any, engines: dict[str, DeviceEngine]):
        if reenactor.integrator != "global":
            raise ValueError("the device path runs the RFG global integrator only (--integrator global)")
        self.device = device
        self.reenactor = reenactor
        self.source_part, self.global_part = engines["rfg_source"], engines["rfg_global"]
        self.global_part.bind("feats", self.source_part.outputs["feats"])  # stays on the device
        self.global_part.bind("adain", self.source_part.outputs["adain_g"])
        size = reenactor.crop_size
        self.staging = device.empty((size, size, 3), np.uint8)

    def prepare(self, source: PreparedSource, compositor: DeviceCompositor) -> None:
        """The per-source part from the uploaded canvas: preprocess kernel -> rfg_source, once."""
        image = self.source_part.inputs["source"]
        size = self.reenactor.crop_size
        launch = host.preprocess_launch(
            compositor.canvas_pointers(), source.affine, image.ptr, size, image.dtype == np.float16, layout=BGR_SIGNED
        )
        self.device.launch(launch)
        self.source_part.run()
        _upload(self.device, self.global_part.inputs["lm_src"], source.state.lm_src)

    def render(self, state: Any, driver: FaceLandmarks, reference: FaceLandmarks) -> Buffer:
        target = self.reenactor.retargeter.retarget(state.geometric.landmarks, reference, driver)
        frame = self.reenactor.global_inputs(state, target)
        inputs = self.global_part.inputs
        _upload_crop(self.device, self.staging, frame.base, inputs["base"], BGR_SIGNED)
        _upload(self.device, inputs["pixel_map"], frame.pixel_map)
        _upload(self.device, inputs["lm_tgt"], frame.lm_tgt)
        _upload(self.device, inputs["mouth"], frame.mouth)
        if frame.revealed is not None:
            _upload(self.device, inputs["revealed"], frame.revealed)
        self.global_part.run()
        return self.global_part.outputs["output"]


class DeviceRenderer:
    """The pipeline's draw + paste-back stage on a device: ``ReenactmentPipeline(renderer=...)``."""

    def __init__(self, generator: DeviceGenerator, compositor: DeviceCompositor):
        self.generator = generator
        self.compositor = compositor
        self.device = compositor.device
        self.prepared: PreparedSource | None = None

    def prepare(self, source: PreparedSource) -> None:
        """Upload the source's canvas and run its per-source work (once per source: a live stream
        rebuilds its pipeline on a paste-back toggle, with the same source)."""
        if source is self.prepared:
            return
        self.compositor.set_canvas(source.canvas, source.affine)
        self.generator.prepare(source, self.compositor)
        self.prepared = source

    def render(self, source: PreparedSource, driver: FaceLandmarks, reference: FaceLandmarks) -> np.ndarray:
        """The output frame (see ``DeviceCompositorConfig.output``) for one driver frame."""
        return self.compositor.compose(self.generator.render(source.state, driver, reference), self.generator.layout)

    def close(self) -> None:
        """Close the device (a ``CudaDevice`` waits for its stream and frees its stream and kernels).
        Nothing stays pushed on any thread without it either; it releases the GPU objects at once."""
        self.device.close()
