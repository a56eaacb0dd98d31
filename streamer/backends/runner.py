"""One runner contract for every inference backend (torch, onnxruntime, tensorrt).

A runner loads its network and allocates once, then exposes ``input_spec`` / ``output_spec``, a raw
``infer`` (named host arrays in, named host arrays out), ``process`` (positional inputs, first
output) and ``warmup``. Engines and ONNX files are built offline (``reenact export``); runners only
load them. ``cross_validate`` compares any runner with eager PyTorch at the tolerance of its
precision (TensorRT samples' ``infer.py``; torch2trt's ``cross_validate``, with tight tolerances).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Precision = Literal["fp32", "fp16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16")

#: Largest allowed |out - ref| / max(|ref|, 1) per precision, against eager fp32 PyTorch.
TOLERANCE: dict[str, float] = {"fp32": 1e-4, "fp16": 1e-2}

#: numpy dtype of a network's floating tensors at each precision.
FLOAT_DTYPE: dict[str, type] = {"fp32": np.float32, "fp16": np.float16}


@dataclass(frozen=True)
class TensorSpec:
    """A named network input or output: per-sample shape (no batch axis) and precision-free dtype."""

    name: str
    shape: tuple[int, ...]  #: shape of one sample; the batch axis is prepended
    doc: str = ""  #: what the tensor holds (units, layout)

    def batched(self, batch: int = 1) -> tuple[int, ...]:
        """The full shape for ``batch`` samples."""
        return (batch, *self.shape)


@runtime_checkable
class Runner(Protocol):
    """What every backend exposes once it is loaded."""

    name: str  #: backend name, e.g. "torch", "onnxruntime-cuda", "tensorrt"
    precision: Precision
    input_spec: tuple[TensorSpec, ...]
    output_spec: tuple[TensorSpec, ...]

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once: host arrays by input name -> host arrays by output name."""
        ...

    def process(self, *inputs: np.ndarray) -> np.ndarray:
        """Positional inputs in ``input_spec`` order -> the first output."""
        ...

    def warmup(self, iterations: int = 3) -> None:
        """Run on zeros so lazy allocation and autotuning happen before timing."""
        ...


class RunnerBase:
    """``process`` and ``warmup`` in terms of ``infer`` (subclasses set the specs and ``infer``)."""

    name = "base"
    precision: Precision = "fp32"
    input_spec: tuple[TensorSpec, ...] = ()
    output_spec: tuple[TensorSpec, ...] = ()

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def process(self, *inputs: np.ndarray) -> np.ndarray:
        if len(inputs) != len(self.input_spec):
            raise ValueError(f"{self.name} takes {len(self.input_spec)} inputs, got {len(inputs)}")
        out = self.infer({spec.name: x for spec, x in zip(self.input_spec, inputs, strict=True)})
        return out[self.output_spec[0].name]

    def input_dtype(self, name: str) -> type:
        """numpy dtype the runner wants for input ``name`` (its precision's float by default)."""
        return getattr(self, "_input_dtypes", {}).get(name, FLOAT_DTYPE[self.precision])

    def warmup(self, iterations: int = 3) -> None:
        feeds = {s.name: np.zeros(s.batched(), self.input_dtype(s.name)) for s in self.input_spec}
        for _ in range(iterations):
            self.infer(feeds)

    def check_feeds(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Raise ``ValueError`` naming expected vs actual shapes when ``feeds`` do not fit the spec."""
        for spec in self.input_spec:
            if spec.name not in feeds:
                raise ValueError(f"{self.name}: missing input {spec.name!r}")
            shape = tuple(np.shape(feeds[spec.name]))
            if shape[1:] != spec.shape:
                raise ValueError(f"{self.name}: input {spec.name!r} expected (N, {spec.shape}), got {shape}")


def use_ieee_fp32(torch: Any) -> None:
    """Make torch's float32 convolutions and matmuls on CUDA full fp32 (process-wide).

    torch runs cuDNN convolutions in TF32 by default on Ampere and newer (``torch.backends.cudnn``
    ``allow_tf32`` True, or ``cudnn.conv.fp32_precision == "tf32"`` from torch 2.9), which rounds their
    inputs to 10-bit mantissas: a "torch-cuda" fp32 runner would miss fp32's 1e-4 tolerance. torch 2.9+
    refuses reads of the legacy flags once the new ones are set, so only one API is used."""
    backends = torch.backends
    if hasattr(backends.cudnn, "conv") and hasattr(backends.cudnn.conv, "fp32_precision"):
        backends.cudnn.conv.fp32_precision = "ieee"
        backends.cuda.matmul.fp32_precision = "ieee"
    else:
        backends.cudnn.allow_tf32 = False
        backends.cuda.matmul.allow_tf32 = False


class TorchRunner(RunnerBase):
    """Eager PyTorch on the CPU or a CUDA device (``device="cuda"``), fp32 or fp16.

    fp16 halves the module and its inputs, except for networks with ``fp32_inputs`` (sample
    coordinates): those keep the module in float32 and only return float16 outputs.
    """

    def __init__(
        self,
        module: Any,
        input_spec: Sequence[TensorSpec],
        output_spec: Sequence[TensorSpec],
        device: str = "cpu",
        precision: Precision = "fp32",
        threads: int | None = None,
        fp32_inputs: Sequence[str] = (),
    ):
        import torch

        self._torch = torch
        if threads is not None and device == "cpu":
            torch.set_num_threads(threads)
        self.device = torch.device(device)
        if self.device.type == "cuda" and precision == "fp32":
            use_ieee_fp32(torch)
        self.precision = precision
        self.name = "torch" if self.device.type == "cpu" else f"torch-{self.device.type}"
        self._out_dtype = torch.float16 if precision == "fp16" else torch.float32
        self._dtype = torch.float32 if fp32_inputs else self._out_dtype
        self._module = module.eval().to(self.device, self._dtype)
        self.input_spec = tuple(input_spec)
        self.output_spec = tuple(output_spec)
        self._input_dtypes = {n: np.float32 for n in fp32_inputs}

    def compile_with(self, compile_module: Any, name: str) -> None:
        """Replace the module by ``compile_module(module)`` (e.g. torch-tensorrt), same device and dtypes."""
        self._module = compile_module(self._module)
        self.name = name

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        torch = self._torch
        with torch.inference_mode():
            args = [torch.as_tensor(np.asarray(feeds[s.name])).to(self.device, self._dtype) for s in self.input_spec]
            outs = self._module(*args)
        outs = outs if isinstance(outs, tuple | list) else (outs,)
        pairs = zip(self.output_spec, outs, strict=True)
        return {s.name: o.detach().to(self._out_dtype).cpu().numpy() for s, o in pairs}


#: onnxruntime execution providers we know, fastest first, with our backend name for each.
ORT_PROVIDER_NAMES: dict[str, str] = {
    "TensorrtExecutionProvider": "onnxruntime-tensorrt",
    "CUDAExecutionProvider": "onnxruntime-cuda",
    "CPUExecutionProvider": "onnxruntime",
}


ORT_DTYPES: dict[str, type] = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


class OnnxRuntimeRunner(RunnerBase):
    """An ONNX file in onnxruntime with one execution provider (CPU, CUDA or TensorRT)."""

    def __init__(
        self,
        model: bytes | str,
        provider: str = "CPUExecutionProvider",
        threads: int = 1,
        precision: Precision = "fp32",
    ):
        import onnxruntime as ort

        if provider not in ort.get_available_providers():
            raise RuntimeError(f"onnxruntime has no {provider} here (available: {ort.get_available_providers()})")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(model, opts, providers=[provider])
        self.name = ORT_PROVIDER_NAMES.get(provider, f"onnxruntime-{provider}")
        self.precision = precision
        self.input_spec = tuple(TensorSpec(i.name, tuple(i.shape[1:])) for i in self._session.get_inputs())
        self.output_spec = tuple(TensorSpec(o.name, tuple(o.shape[1:])) for o in self._session.get_outputs())
        self._input_dtypes = {i.name: ORT_DTYPES.get(i.type, np.float32) for i in self._session.get_inputs()}

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        inputs = {s.name: np.ascontiguousarray(feeds[s.name], self.input_dtype(s.name)) for s in self.input_spec}
        outs = self._session.run(None, inputs)
        return {s.name: o for s, o in zip(self.output_spec, outs, strict=True)}


@dataclass(frozen=True)
class Agreement:
    """How far a runner's output is from the eager PyTorch reference, per output."""

    runner: str
    precision: str
    output: str
    max_abs: float
    relative: float  #: max_abs / max(max |ref|, 1)
    tolerance: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.relative)) and self.relative <= self.tolerance


def compare(out: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(max abs error, relative error) of ``out`` against ``ref``, both as float64."""
    out64, ref64 = np.asarray(out, np.float64), np.asarray(ref, np.float64)
    if out64.shape != ref64.shape:
        raise ValueError(f"output shape {out64.shape} differs from the reference {ref64.shape}")
    max_abs = float(np.max(np.abs(out64 - ref64))) if out64.size else 0.0
    return max_abs, max_abs / max(float(np.max(np.abs(ref64))) if ref64.size else 0.0, 1.0)


def cross_validate(runner: Runner, reference: Mapping[str, np.ndarray], feeds: Mapping[str, np.ndarray]):
    """One :class:`Agreement` per output of ``runner`` on ``feeds`` against ``reference`` outputs."""
    outs = runner.infer(feeds)
    tol = TOLERANCE[runner.precision]
    results = []
    for spec in runner.output_spec:
        max_abs, rel = compare(outs[spec.name], reference[spec.name])
        results.append(Agreement(runner.name, runner.precision, spec.name, max_abs, rel, tol))
    return results
