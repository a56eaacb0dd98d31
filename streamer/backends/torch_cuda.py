"""The torch CUDA calls of the GPU runners and the frame path, in one place.

``TensorRTRunner`` and ``streamer.framepath.device.CudaDevice`` allocate, queue and capture through
this object rather than calling ``torch.cuda`` directly, so their ordering and bookkeeping logic is
tested on machines without a GPU with a CPU stand-in (tests/backends, tests/framepath). torch is the
allocator because the CUDA build of torch is what a GPU machine has anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class TorchCuda:
    """torch.cuda for one device."""

    def __init__(self, index: int = 0):
        import torch

        torch.cuda.init()
        self.torch = torch
        self.device = torch.device("cuda", index)

    def new_stream(self) -> Any:
        """A new torch stream (torch's pool streams are non-blocking: cudaStreamNonBlocking)."""
        return self.torch.cuda.Stream(device=self.device)

    def wrap_stream(self, handle: int) -> Any:
        """A torch stream over an existing CUDA stream (e.g. the pycuda one the kernels launch on)."""
        return self.torch.cuda.ExternalStream(handle, device=self.device)

    def on(self, stream: Any) -> Any:
        """Context manager: torch work in the block queues on ``stream``."""
        return self.torch.cuda.stream(stream)

    def event(self) -> Any:
        """A CUDA event (no timing) for ordering work across streams."""
        return self.torch.cuda.Event()

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.torch.empty(shape, dtype=dtype, device=self.device)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.torch.zeros(shape, dtype=dtype, device=self.device)

    def pinned(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.torch.empty(shape, dtype=dtype, pin_memory=True)

    def capture(self, stream: Any, calls: list[Callable[[], None]]) -> Any:
        """A CUDA graph of ``calls`` issued on ``stream`` (thread-local capture: other threads may go on
        allocating and launching while this one captures)."""
        graph = self.torch.cuda.CUDAGraph()
        with self.torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
            for call in calls:
                call()
        return graph

    def replay(self, stream: Any, graph: Any) -> None:
        """Queue one run of ``graph`` on ``stream``."""
        with self.on(stream):
            graph.replay()
