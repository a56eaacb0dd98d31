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

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from streamer.backends.runner import Precision, RunnerBase, TensorSpec


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
    """One deserialised engine with its execution context and device buffers."""

    name = "tensorrt"

    def __init__(
        self,
        engine: bytes | str | Path,
        precision: Precision = "fp32",
        batch: int = 1,
        stream_handle: int | None = None,
        device: int = 0,
    ):
        import tensorrt as trt
        import torch

        self._trt, self._torch = trt, torch
        self.precision = precision
        self.device = torch.device("cuda", device)
        data = Path(engine).read_bytes() if isinstance(engine, str | Path) else engine
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise RuntimeError("TensorRT could not deserialise the engine (wrong TensorRT version or GPU?)")
        self.context = self.engine.create_execution_context()
        self.stream = (
            torch.cuda.ExternalStream(stream_handle, device=self.device)
            if stream_handle is not None
            else torch.cuda.Stream(device=self.device)
        )
        self.buffers: dict[str, Any] = {}
        inputs, outputs = [], []
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        for name in names:  # inputs first: output shapes depend on the input shapes
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                shape = tuple(batch if d < 0 else d for d in self.engine.get_tensor_shape(name))
                self.context.set_input_shape(name, shape)
                inputs.append(TensorSpec(name, shape[1:]))
        for name in names:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = _torch_dtype(trt, self.engine.get_tensor_dtype(name))
            self.buffers[name] = torch.empty(shape, dtype=dtype, device=self.device)
            self.context.set_tensor_address(name, self.buffers[name].data_ptr())
            if self.engine.get_tensor_mode(name) != trt.TensorIOMode.INPUT:
                outputs.append(TensorSpec(name, shape[1:]))
        self.input_spec, self.output_spec = tuple(inputs), tuple(outputs)
        self._input_dtypes = {s.name: _numpy_dtype(self.buffers[s.name].dtype) for s in inputs}
        self._graph: Any = None

    # ---- device-side API (no host copies) -----------------------------------------------------------
    def bind(self, name: str, tensor: Any) -> None:
        """Use ``tensor`` (a CUDA tensor of the right shape and dtype) as the buffer of ``name``."""
        own = self.buffers[name]
        if tuple(tensor.shape) != tuple(own.shape) or tensor.dtype != own.dtype or not tensor.is_cuda:
            raise ValueError(f"{name}: expected CUDA {own.dtype} {tuple(own.shape)}, got {tensor.dtype} {tensor.shape}")
        self.buffers[name] = tensor
        self.context.set_tensor_address(name, tensor.data_ptr())
        self._graph = None  # a captured graph holds the old addresses

    def enqueue(self) -> None:
        """Queue one inference on the stream (or replay the captured graph); returns at once."""
        if self._graph is not None:
            with self._torch.cuda.stream(self.stream):
                self._graph.replay()
            return
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")

    def capture(self, before: Callable[[], None] | None = None, after: Callable[[], None] | None = None) -> None:
        """Capture ``before()`` (e.g. preprocess kernels), the engine and ``after()`` (post kernels) as
        one CUDA graph on this stream; :meth:`enqueue` then replays it. Buffers must not move after."""
        torch = self._torch
        self.enqueue()  # TensorRT allocates lazily on the first run: never inside a capture
        self.stream.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
            if before is not None:
                before()
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed during capture")
            if after is not None:
                after()
        self._graph = graph

    def release_graph(self) -> None:
        """Go back to plain ``execute_async_v3`` launches."""
        self._graph = None

    def synchronize(self) -> None:
        self.stream.synchronize()

    # ---- host API (the runner contract) -------------------------------------------------------------
    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        torch = self._torch
        with torch.cuda.stream(self.stream):
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
