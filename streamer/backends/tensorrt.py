"""Run a TensorRT engine behind the runner contract; device buffers, one stream, optional CUDA graph.

Buffers are CUDA tensors from torch (allocated once, bound by tensor name with
``set_tensor_address``) and the engine runs with ``execute_async_v3`` on one stream. Between
engines nothing goes through the host: :meth:`TensorRTRunner.bind` points an input at another
engine's output (or at the buffer our preprocess kernel writes). The stream can be one created here
or an existing one (``stream_handle``, e.g. the pycuda ``Stream.handle`` the kernels in
``kernels.gpu`` launch on), so kernels and engines queue on the same stream and one CUDA graph can
capture the whole per-frame path (:meth:`capture`). torch is used for memory, streams and graphs
because the CUDA build of torch is what a GPU machine has anyway; tensorrt is imported lazily.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from streamer.backends.runner import Precision, RunnerBase, TensorSpec
from streamer.backends.torch_cuda import TorchCuda


def _torch_dtype(trt: Any, dtype: Any) -> Any:
    import torch

    table = {
        trt.DataType.FLOAT: torch.float32,
        trt.DataType.HALF: torch.float16,
        trt.DataType.INT32: torch.int32,
        trt.DataType.INT8: torch.int8,
        trt.DataType.BOOL: torch.bool,
    }
    if hasattr(trt.DataType, "INT64"):
        table[trt.DataType.INT64] = torch.int64
    return table[dtype]


class TensorRTRunner(RunnerBase):
    """One deserialised engine with its execution context and device buffers.

    ``trt`` and ``cuda`` replace the tensorrt module and :class:`TorchCuda` (tests without a GPU).
    """

    name = "tensorrt"

    def __init__(
        self,
        engine: bytes | str | Path,
        precision: Precision = "fp32",
        batch: int = 1,
        stream_handle: int | None = None,
        device: int = 0,
        *,
        trt: Any = None,
        cuda: Any = None,
    ):
        if trt is None:
            import tensorrt as trt
        from export.tensorrt_build import tensorrt_logger

        self._trt = trt
        self._cuda = cuda or TorchCuda(device)
        self._torch = self._cuda.torch
        self.precision = precision
        self.device = self._cuda.device
        data = Path(engine).read_bytes() if isinstance(engine, str | Path) else engine
        self._runtime = trt.Runtime(tensorrt_logger(trt))  # TensorRT keeps one logger per process
        self.engine = self._runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise RuntimeError("TensorRT could not deserialise the engine (wrong TensorRT version or GPU?)")
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise RuntimeError("TensorRT could not create an execution context (out of GPU memory?)")
        self.stream = self._cuda.wrap_stream(stream_handle) if stream_handle is not None else self._cuda.new_stream()
        # TensorRT: one execution context per concurrently running thread. This runner has one context
        # (and one set of buffers), so host calls from several threads (a runner shared by live
        # streams) take turns.
        self._lock = threading.Lock()
        self.done = self._cuda.event()  # recorded after each enqueue: consumers on other streams wait on it
        self._producers: dict[str, TensorRTRunner] = {}  # input -> the runner on another stream writing it
        self._consumers: dict[int, TensorRTRunner] = {}  # runners on other streams reading our outputs
        self.buffers: dict[str, Any] = {}
        inputs, outputs = [], []
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        for name in names:  # inputs first: output shapes depend on the input shapes
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                shape = tuple(batch if d < 0 else d for d in self.engine.get_tensor_shape(name))
                if not self.context.set_input_shape(name, shape):
                    raise RuntimeError(f"TensorRT refused input shape {shape} for {name!r} (outside the profile?)")
                inputs.append(TensorSpec(name, shape[1:]))
        for name in names:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = _torch_dtype(trt, self.engine.get_tensor_dtype(name))
            self.buffers[name] = self._cuda.empty(shape, dtype)
            self._set_address(name, self.buffers[name])
            if self.engine.get_tensor_mode(name) != trt.TensorIOMode.INPUT:
                outputs.append(TensorSpec(name, shape[1:]))
        self.input_spec, self.output_spec = tuple(inputs), tuple(outputs)
        self._input_dtypes = {s.name: _numpy_dtype(self.buffers[s.name].dtype) for s in inputs}
        self._graph: Any = None

    def _set_address(self, name: str, tensor: Any) -> None:
        if not self.context.set_tensor_address(name, int(tensor.data_ptr())):
            raise RuntimeError(f"TensorRT refused the address of {name!r} (misaligned or not a tensor of the engine)")

    def _on_other_stream(self, other: TensorRTRunner) -> bool:
        return other.stream.cuda_stream != self.stream.cuda_stream

    # ---- device-side API (no host copies) -----------------------------------------------------------
    def bind(self, name: str, tensor: Any, producer: TensorRTRunner | None = None) -> None:
        """Use ``tensor`` (a contiguous CUDA tensor of the right shape and dtype) as the buffer of ``name``.

        ``producer``: the runner whose output ``tensor`` is. On the same stream, stream order is enough.
        On another stream, this runner's :meth:`enqueue` waits for the producer's last run, and the
        producer's next run waits for this one's (it must not overwrite what is still being read).
        """
        own = self.buffers[name]
        if tuple(tensor.shape) != tuple(own.shape) or tensor.dtype != own.dtype or tensor.device != own.device:
            want, got = f"{own.device} {own.dtype} {tuple(own.shape)}", f"{tensor.device} {tensor.dtype} {tensor.shape}"
            raise ValueError(f"{name}: expected {want}, got {got}")
        if not tensor.is_contiguous():
            raise ValueError(f"{name}: TensorRT reads a dense buffer, got a non-contiguous view ({tensor.stride()})")
        self._set_address(name, tensor)
        self.buffers[name] = tensor
        old = self._producers.pop(name, None)
        if old is not None and old not in self._producers.values():
            old._consumers.pop(id(self), None)
        if producer is not None and self._on_other_stream(producer):
            self._producers[name] = producer
            producer._consumers[id(self)] = self
        self._graph = None  # a captured graph holds the old addresses

    def _execute(self) -> None:
        for other in (*self._producers.values(), *self._consumers.values()):
            self.stream.wait_event(other.done)  # never-recorded events are complete: no wait
        self._run_engine()
        self._record()

    def _record(self) -> None:
        """Mark this run's end for runners on other streams (only those bound across streams need it:
        runners sharing a stream are ordered by it, and a CUDA graph capture holds no stray records)."""
        if self._producers or self._consumers:
            self.done.record(self.stream)

    def enqueue(self) -> None:
        """Queue one inference on the stream (or replay the captured graph); returns at once."""
        if self._graph is not None:
            self._cuda.replay(self.stream, self._graph)
            self._record()
            return
        self._execute()

    def capture(self, before: Callable[[], None] | None = None, after: Callable[[], None] | None = None) -> None:
        """Capture ``before()`` (e.g. preprocess kernels), the engine and ``after()`` (post kernels) as
        one CUDA graph on this stream; :meth:`enqueue` then replays it. Buffers must not move after."""
        if self._producers or self._consumers:
            raise RuntimeError("capture needs the runners this one is bound to on its own stream")
        self._graph = None  # the warm-up below must run the engine, not replay a previous graph
        self._execute()  # TensorRT allocates lazily on the first run: never inside a capture
        self.stream.synchronize()
        calls = [c for c in (before, self._run_engine, after) if c is not None]
        self._graph = self._cuda.capture(self.stream, calls)

    def _run_engine(self) -> None:
        """Enqueue the engine once on the stream (the one ``execute_async_v3`` call: plain runs and captures)."""
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")

    def release_graph(self) -> None:
        """Go back to plain ``execute_async_v3`` launches."""
        self._graph = None

    def synchronize(self) -> None:
        self.stream.synchronize()

    # ---- host API (the runner contract) -------------------------------------------------------------
    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        torch = self._torch
        with self._lock, self._cuda.on(self.stream):
            for spec in self.input_spec:
                buf = self.buffers[spec.name]
                host = torch.from_numpy(np.ascontiguousarray(feeds[spec.name], self.input_dtype(spec.name)))
                buf.copy_(host.reshape(buf.shape), non_blocking=False)
            self.enqueue()
            outs = {s.name: self.buffers[s.name].to("cpu", non_blocking=False) for s in self.output_spec}
            self.stream.synchronize()
            return {k: v.numpy() for k, v in outs.items()}


def _numpy_dtype(torch_dtype: Any) -> type:
    import torch

    return {torch.float32: np.float32, torch.float16: np.float16, torch.int32: np.int32}.get(torch_dtype, np.float32)
