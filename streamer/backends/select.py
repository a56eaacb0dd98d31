"""``--backend auto``: the fastest backend that can run a network here, and the runner for it.

Order on a GPU machine: our TensorRT engines (with the CUDA kernels) > torch-tensorrt's compile of
the eager module > onnxruntime's TensorRT provider > onnxruntime's CUDA provider > torch on CUDA.
On a CPU the choice is per network, as measured (``ExportableNetwork.cpu_backend``; see
benchmarks/BACKENDS.md): OpenCV's remap for the pixel warp, onnxruntime for the MLPs. The choice
says why, so the CLI can print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from streamer.backends.probe import Facts, probe
from streamer.backends.runner import OnnxRuntimeRunner, Precision, Runner, TorchRunner
from streamer.errors import InputError

if TYPE_CHECKING:
    from export.registry import ExportableNetwork

#: GPU backends, fastest first (each needs what ``availability`` checks).
GPU_ORDER = ("tensorrt", "torch-tensorrt", "onnxruntime-tensorrt", "onnxruntime-cuda", "torch-cuda")
CPU_BACKENDS = ("onnxruntime", "torch", "opencv")
BACKENDS = ("auto", *GPU_ORDER, *CPU_BACKENDS)
_ORT_PROVIDER = {
    "onnxruntime-tensorrt": "TensorrtExecutionProvider",
    "onnxruntime-cuda": "CUDAExecutionProvider",
    "onnxruntime": "CPUExecutionProvider",
}


@dataclass(frozen=True)
class BackendChoice:
    """The backend picked for ``network`` and why (``rejected``: the faster ones passed over)."""

    network: str
    name: str
    reason: str
    rejected: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """One line for the user."""
        return f"{self.network}: backend {self.name} ({self.reason})"


def _on_torch_cuda(facts: Facts, installed: bool, missing: str, ok: str) -> tuple[bool, str]:
    """A package that runs on torch's CUDA buffers: installed, and torch sees a GPU."""
    if not installed:
        return False, missing
    if not facts.torch_cuda:
        return False, f"no CUDA through torch ({facts.torch_cuda_reason})"
    return True, ok


def availability(name: str, facts: Facts, network: str = "pixel_warp") -> tuple[bool, str]:
    """Whether backend ``name`` can run ``network`` on a machine with ``facts``, and why (not)."""
    if name == "tensorrt":
        return _on_torch_cuda(
            facts, facts.tensorrt, "tensorrt is not installed (pip install 'reenact[gpu]')", "TensorRT engine"
        )
    if name == "torch-tensorrt":
        missing = "torch-tensorrt is not installed (pip install torch-tensorrt matching torch)"
        return _on_torch_cuda(facts, facts.torch_tensorrt, missing, "torch-tensorrt compile (not cached on disk)")
    if name in _ORT_PROVIDER:
        provider = _ORT_PROVIDER[name]
        ok = provider in facts.ort_providers
        return ok, provider if ok else f"onnxruntime has no {provider} (install onnxruntime-gpu)"
    if name == "torch-cuda":
        return facts.torch_cuda, facts.torch_cuda_reason or "torch CUDA"
    if name == "torch":
        return True, "eager torch on the CPU"
    if name == "opencv":
        ok = network == "pixel_warp"
        return ok, "cv2.remap" if ok else "OpenCV only runs the pixel warp"
    return False, f"unknown backend {name!r}"


def select_backend(network: str, requested: str = "auto", facts: Facts | None = None) -> BackendChoice:
    """The backend for ``network``: ``requested`` if it can run here, else (``auto``) the fastest."""
    from export.registry import get_network

    net = get_network(network)
    facts = facts or probe()
    if requested != "auto":
        if requested not in BACKENDS:
            raise InputError(f"unknown backend {requested!r}; choose one of {', '.join(BACKENDS)}")
        ok, why = availability(requested, facts, network)
        if not ok:
            raise InputError(f"backend {requested} cannot run here: {why}")
        return BackendChoice(network, requested, f"requested; {why}")
    rejected = []
    for name in GPU_ORDER:
        ok, why = availability(name, facts, network)
        if ok:
            return BackendChoice(network, name, f"fastest available: {why}", tuple(rejected))
        rejected.append((name, why))
    return BackendChoice(network, net.cpu_backend, "no GPU backend here; fastest on CPU as measured", tuple(rejected))


def create_runner(
    choice: BackendChoice,
    precision: Precision = "fp32",
    onnx_dir: Path | None = None,
    weights: Path | None = None,
    threads: int = 1,
) -> Runner:
    """The runner for ``choice``. ONNX files come from ``onnx_dir`` (``reenact export --out``) when
    given, else are exported in memory; TensorRT engines are built on first use and cached."""
    from export.registry import DEFAULT_WEIGHTS_DIR, get_network

    weights = weights or DEFAULT_WEIGHTS_DIR
    net = get_network(choice.network, weights)
    if choice.name in ("torch", "torch-cuda", "torch-tensorrt"):
        device = "cpu" if choice.name == "torch" else "cuda"
        module = net.build(weights if net.weights_file else None)
        runner = TorchRunner(module, net.inputs, net.outputs, device, precision, threads, net.fp32_inputs)
        if choice.name == "torch-tensorrt":
            from export.tensorrt_build import compile_torch_tensorrt

            runner.compile_with(lambda m: compile_torch_tensorrt(m, net, precision), "torch-tensorrt")
        return runner
    if choice.name == "opencv":
        raise InputError("opencv is not a network runner; use remap_backend() for the pixel warp")
    onnx_path = _onnx_file(net, precision, onnx_dir, weights)
    if choice.name == "tensorrt":
        from export.tensorrt_build import BuildConfig, ensure_engine
        from streamer.backends.tensorrt import TensorRTRunner

        engine = ensure_engine(onnx_path, net, BuildConfig(precision=precision))
        return TensorRTRunner(engine, precision)
    return OnnxRuntimeRunner(str(onnx_path), _ORT_PROVIDER[choice.name], threads, precision)


def _onnx_file(net: ExportableNetwork, precision: str, onnx_dir: Path | None, weights: Path) -> Path:
    """``onnx_dir/<name>.<precision>.onnx``, exported into the engine cache folder when absent (a
    variant's, e.g. ``rfg_global`` with the revealed input, in its own subfolder there)."""
    name = net.name
    if onnx_dir is not None:
        path = Path(onnx_dir) / f"{name}.{precision}.onnx"
        if not path.is_file():
            raise InputError(f"{path} not found: run reenact export --out {onnx_dir} --precision {precision}")
        return path
    from export.pipeline import ExportConfig, export_all
    from export.tensorrt_build import engine_cache_dir

    folder = engine_cache_dir() / "onnx" / net.variant if net.variant else engine_cache_dir() / "onnx"
    path = folder / f"{name}.{precision}.onnx"
    if not path.is_file():
        export_all(ExportConfig(folder, weights, precision, networks=(name,)), say=lambda _: None)
    return path


class RunnerRemap:
    """A pixel-warp runner behind ``streamer.backends.warp.RemapBackend`` (uint8 BGR in and out)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.name = runner.name
        self._shape = runner.input_spec[0].shape  # (3, H, W)

    def remap(self, image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        if image.shape[:2] != self._shape[1:] or map_x.shape != self._shape[1:]:
            raise InputError(f"{self.name} runs {self._shape[1:]} crops only, got {image.shape[:2]} / {map_x.shape}")
        img = np.ascontiguousarray(image.transpose(2, 0, 1)[None], np.float32)
        pm = np.stack([map_x, map_y], axis=-1)[None].astype(np.float32)
        out = self.runner.process(img, pm)
        return np.clip(np.rint(out[0].astype(np.float32).transpose(1, 2, 0)), 0, 255).astype(np.uint8)


def remap_backend(choice: BackendChoice, threads: int = 1, precision: Precision = "fp32"):
    """A ``RemapBackend`` for the pixel warp: the CPU ones from ``streamer.backends.warp``, GPU ones
    as runners behind :class:`RunnerRemap`."""
    from streamer.backends.warp import create_remap_backend

    if choice.network != "pixel_warp":
        raise InputError(f"{choice.network} is not the pixel warp")
    if choice.name in ("opencv", "torch", "onnxruntime"):
        return create_remap_backend(choice.name, threads)
    return RunnerRemap(create_runner(choice, precision, threads=threads))
