"""Networks that read and write the frame path's buffers in place.

``OrtEngine``: an onnxruntime CPU session bound to ``HostDevice`` buffers with IOBinding (no copies
in or out). ``TensorRTEngine``: a TensorRT engine (``streamer.backends.tensorrt.TensorRTRunner``) on
the ``CudaDevice``'s stream. Both expose their inputs and outputs as ``Buffer`` objects, and
``bind`` points an input at another buffer, e.g. an upstream engine's output, so nothing goes
through the host between engines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from streamer.framepath.device import Buffer, Device

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


class DeviceEngine(Protocol):
    """A network on device buffers."""

    inputs: dict[str, Buffer]
    outputs: dict[str, Buffer]

    def bind(self, name: str, buffer: Buffer) -> None:
        """Read input ``name`` from ``buffer`` (same shape and dtype) from now on."""
        ...

    def run(self) -> None:
        """Run once (queued on the device's stream on a GPU; through ``Device.enqueue``)."""
        ...


def _check_bind(inputs: dict[str, Buffer], name: str, buffer: Buffer) -> None:
    own = inputs.get(name)
    if own is None:
        raise KeyError(f"no input {name!r}; inputs: {', '.join(inputs)}")
    if own.shape != buffer.shape or own.dtype != buffer.dtype:
        raise ValueError(f"{name}: expected {own.dtype} {own.shape}, got {buffer.dtype} {buffer.shape}")


class OrtEngine:
    """An onnxruntime CPU session whose inputs and outputs are ``HostDevice`` buffers (static shapes)."""

    def __init__(self, model: bytes | str | Path, device: Device, threads: int = 1):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        self.device, self._version = device, 0
        self._binding = self.session.io_binding()
        self.inputs: dict[str, Buffer] = {}
        self.outputs: dict[str, Buffer] = {}
        for arg in self.session.get_inputs():
            self.inputs[arg.name] = device.empty(self._shape(arg), _ORT_TYPES[arg.type])
            self._bind_input(arg.name, self.inputs[arg.name])
        for arg in self.session.get_outputs():
            self.outputs[arg.name] = buf = device.empty(self._shape(arg), _ORT_TYPES[arg.type])
            self._binding.bind_output(arg.name, "cpu", 0, buf.dtype.type, list(buf.shape), buf.ptr)

    @staticmethod
    def _shape(arg: Any) -> tuple[int, ...]:
        if not all(isinstance(d, int) for d in arg.shape):
            raise ValueError(f"{arg.name} has a dynamic shape {arg.shape}; the frame path needs static graphs")
        return tuple(arg.shape)

    def _bind_input(self, name: str, buf: Buffer) -> None:
        self._binding.bind_input(name, "cpu", 0, buf.dtype.type, list(buf.shape), buf.ptr)

    def bind(self, name: str, buffer: Buffer) -> None:
        _check_bind(self.inputs, name, buffer)
        self.inputs[name] = buffer
        self._bind_input(name, buffer)
        self._version += 1

    def run(self) -> None:
        # The key changes with every rebinding, so a captured frame never replays old addresses.
        self.device.enqueue(f"ort:{id(self)}:{self._version}", lambda: self.session.run_with_iobinding(self._binding))


class TensorRTEngine:
    """A TensorRT engine on the ``CudaDevice``'s stream, its bindings exposed as buffers."""

    def __init__(self, engine: bytes | str | Path, device: Any, precision: str = "fp32"):
        """``device``: a ``CudaDevice`` (or a ``GraphDevice`` around one)."""
        from streamer.backends.tensorrt import TensorRTRunner

        self.runner = TensorRTRunner(engine, precision, stream_handle=device.stream.handle)  # type: ignore[arg-type]
        self.device, self._version = device, 0
        self.inputs = {s.name: self._adopt(device, s.name) for s in self.runner.input_spec}
        self.outputs = {s.name: self._adopt(device, s.name) for s in self.runner.output_spec}

    def _adopt(self, device: Any, name: str) -> Buffer:
        tensor = self.runner.buffers[name]
        dtype = {"torch.float32": np.float32, "torch.float16": np.float16}[str(tensor.dtype)]
        return device.adopt(tensor, dtype)

    def bind(self, name: str, buffer: Buffer) -> None:
        _check_bind(self.inputs, name, buffer)
        # Every engine and kernel of the frame path queues on the device's one stream, so stream order
        # alone orders a producer's write before this read (no events, unlike runners on own streams).
        self.runner.bind(name, buffer.handle)
        self.inputs[name] = buffer
        self._version += 1

    def run(self) -> None:
        self.device.enqueue(f"trt:{id(self)}:{self._version}", self.runner.enqueue)
