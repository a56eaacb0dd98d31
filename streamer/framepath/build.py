"""``--frame-path``: build the device renderer for a reenactor on the CPU (kernel twins +
onnxruntime) or on a CUDA device (GPU kernels + TensorRT engines)."""

from __future__ import annotations

import logging
from typing import Any

from streamer.compositor import CompositorConfig
from streamer.errors import InputError
from streamer.framepath.compositor import DeviceCompositor, DeviceCompositorConfig, Output
from streamer.framepath.device import CudaDevice, Device, HostDevice
from streamer.framepath.engines import DeviceEngine, OrtEngine, TensorRTEngine
from streamer.framepath.generators import DeviceGenerator, DeviceRenderer, HostCrop, RFGGlobalOnDevice
from streamer.framepath.graph import GraphDevice, GraphRenderer

FRAME_PATHS: tuple[str, ...] = ("auto", "opencv", "kernels")
RFG_DEVICE_PARTS = ("rfg_source", "rfg_global")

log = logging.getLogger(__name__)


def kernel_device_status() -> tuple[str, str]:
    """("cuda" or "cpu", why): where ``--frame-path kernels`` runs here."""
    from export.tensorrt_build import tensorrt_status
    from kernels.gpu import gpu_status

    for ok, why in (gpu_status(), tensorrt_status()):
        if not ok:
            return "cpu", why
    return "cuda", "NVIDIA GPU with pycuda and TensorRT"


def resolve_frame_path(requested: str, warp_backend: str) -> str:
    """``auto``: the kernel path when the per-frame networks run on TensorRT (the frame then stays on
    the GPU), else OpenCV's paste-back (faster on a CPU than the emulated kernels, benchmarks/BACKENDS.md)."""
    if requested not in FRAME_PATHS:
        raise InputError(f"--frame-path must be one of {', '.join(FRAME_PATHS)}, got {requested!r}")
    if requested != "auto":
        return requested
    return "kernels" if warp_backend == "tensorrt" else "opencv"


def _rfg_engines(reenactor: Any, device: Device, threads: int, precision: str) -> dict[str, DeviceEngine]:
    """The RFG's per-source part and global integrator, exported from the reenactor's own networks."""
    from export.registry import rfg_network
    from streamer.reenactors.rfg import example_inputs, export_part_onnx

    parts = reenactor.nets.parts()
    on_host = device.name == "cpu"
    exported: dict[str, bytes] = getattr(reenactor.runner, "models", {})  # an onnxruntime reenactor's graphs
    examples = example_inputs(reenactor.nets) if on_host and not exported else {}  # runs rfg_source once
    engines: dict[str, DeviceEngine] = {}
    for name in RFG_DEVICE_PARTS:
        if on_host:
            model = exported.get(name) or export_part_onnx(parts[name], name, examples[name])
            engines[name] = OrtEngine(model, device, threads)
        else:
            engine = engine_for_module(rfg_network(name, reenactor.revealed), parts[name], precision)
            engines[name] = TensorRTEngine(engine, device, precision)
    return engines


def engine_for_module(net: Any, module: Any, precision: str = "fp32"):
    """The TensorRT engine file for ``module`` exported as registered network ``net`` (cached by its
    ONNX hash and the GPU, ``export.tensorrt_build``)."""
    from export.atomic import atomic_write_bytes, sha256_bytes
    from export.onnx_export import OnnxOptions, check_onnx, export_onnx, serialize, to_fp16
    from export.tensorrt_build import BuildConfig, engine_cache_dir, ensure_engine

    model = check_onnx(export_onnx(net, module, OnnxOptions()))
    if precision == "fp16":
        model = check_onnx(to_fp16(model, net.fp32_inputs))
    data = serialize(model)
    path = engine_cache_dir() / "onnx" / f"{net.name}.{precision}.{sha256_bytes(data)[:16]}.onnx"
    if not path.is_file():
        atomic_write_bytes(path, data)
    return ensure_engine(path, net, BuildConfig(precision=precision), log=log.info)


def create_device_renderer(
    reenactor: Any,
    device: str = "auto",
    threads: int = 1,
    precision: str = "fp32",
    compositor: CompositorConfig | None = None,
    output: Output = "bgr",
    graph: bool | None = None,
) -> DeviceRenderer | GraphRenderer:
    """The device draw + paste stage for ``reenactor``: the RFG global integrator runs its engines on
    the device; any other reenactor draws on the host and only its crop goes up. ``graph``: capture
    the per-frame device work once and replay it (``streamer.framepath.graph``; default: on a GPU)."""
    from streamer.reenactors.rfg import RFGReenactor

    where = kernel_device_status()[0] if device == "auto" else device
    base: Device = CudaDevice() if where == "cuda" else HostDevice()
    use_graph = (where == "cuda") if graph is None else graph
    dev: Device = GraphDevice(base) if use_graph else base
    generator: DeviceGenerator
    if isinstance(reenactor, RFGReenactor) and reenactor.integrator == "global":
        generator = RFGGlobalOnDevice(dev, reenactor, _rfg_engines(reenactor, dev, threads, precision))
    else:
        generator = HostCrop(dev, reenactor)
    config = DeviceCompositorConfig(compositor or CompositorConfig(), output)
    renderer = DeviceRenderer(generator, DeviceCompositor(dev, reenactor.crop_size, config))
    return GraphRenderer(renderer) if use_graph else renderer
