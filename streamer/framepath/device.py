"""Where the frame path's buffers live and its kernels run.

``HostDevice``: NumPy buffers and the CPU build of the CUDA sources (``kernels.cpu_build``), so the
very kernels the GPU runs are exercised, and tested, on any machine. ``CudaDevice``: CUDA buffers
(torch, the allocator TensorRT's runner uses), the GPU build (``kernels.gpu``, pycuda) and one CUDA
stream that kernels, copies and TensorRT engines all queue on, in the device's primary context.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from kernels import host
from streamer.backends.torch_cuda import TorchCuda


@dataclass(eq=False)
class Buffer:
    """A device buffer: shape, dtype, address (a host address on the host device) and the object
    that owns the memory (an ``np.ndarray`` or a CUDA ``torch.Tensor``)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    ptr: int
    handle: Any
    #: The host memory the device stages this buffer's uploads in and downloads it into (pinned on a
    #: GPU), made on first use. Held here, not in a table keyed by ``id(buffer)``: it is freed with the
    #: buffer, and a new buffer that gets a dead one's id never inherits its array (of another shape).
    upload_staging: Any = field(default=None, repr=False)
    download_target: Any = field(default=None, repr=False)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def as_bgr_frame(self) -> host.PlanePointers:
        """This (h, w, 3) uint8 buffer as a packed BGR kernel frame (rows without padding)."""
        if len(self.shape) != 3 or self.shape[2] != 3 or self.dtype != np.uint8:
            raise ValueError(f"a packed BGR frame is (h, w, 3) uint8, not {self.dtype} {self.shape}")
        h, w = self.shape[:2]
        return host.PlanePointers("bgr", w, h, (self.ptr, 0, 0), (3 * w, 0, 0))


class Device(Protocol):
    """Memory, copies and kernel launches, all ordered (one stream on a GPU)."""

    name: str

    def empty(self, shape: tuple[int, ...], dtype: type) -> Buffer: ...

    def upload(self, dst: Buffer, src: np.ndarray) -> None: ...

    def download(self, src: Buffer) -> np.ndarray: ...

    def copy(self, dst: Buffer, src: Buffer) -> None: ...

    def zero(self, buf: Buffer) -> None: ...

    def launch(self, launch: host.Launch) -> None: ...

    def synchronize(self) -> None: ...

    def close(self) -> None:
        """Release what the device holds (idempotent)."""
        ...

    def capture_graph(self, calls: list[Callable[[], None]]) -> Any:
        """Capture ``calls`` (queued device work, issued in order now) as a graph, without running them."""
        ...

    def replay_graph(self, graph: Any) -> None:
        """Run a captured graph once and wait for it."""
        ...

    # The same work in the pieces a captured frame needs (streamer.framepath.graph): host arrays at
    # fixed addresses that the queued copies read and write, and queued work that is not a kernel.
    def staging(self, dst: Buffer) -> np.ndarray:
        """The fixed host array ``commit(dst)`` copies from."""
        ...

    def commit(self, dst: Buffer) -> None:
        """Queue the copy of ``staging(dst)`` into ``dst``."""
        ...

    def host_buffer(self, src: Buffer) -> np.ndarray:
        """The fixed host array ``fetch(src)`` copies into."""
        ...

    def fetch(self, src: Buffer) -> None:
        """Queue the copy of ``src`` into ``host_buffer(src)`` (valid after ``synchronize``)."""
        ...

    def enqueue(self, key: str, work: Callable[[], None]) -> None:
        """Queue device work that is not a kernel launch (an engine run); ``key`` names it."""
        ...


def _check_upload(dst: Buffer, src: np.ndarray) -> np.ndarray:
    src = np.asarray(src)
    if src.size != int(np.prod(dst.shape)) or src.dtype != dst.dtype:
        raise ValueError(f"cannot upload {src.dtype} {src.shape} into {dst.dtype} {dst.shape}")
    return src.reshape(dst.shape)


class HostDevice:
    """Host memory; kernels run by the CPU build of the CUDA sources (grid emulation)."""

    name = "cpu"

    def __init__(self, kernels: Any = None):
        from kernels.cpu_build import cpu_kernels

        self.kernels = kernels or cpu_kernels()

    def empty(self, shape: tuple[int, ...], dtype: type) -> Buffer:
        array = np.zeros(shape, dtype)
        return Buffer(tuple(shape), array.dtype, int(array.ctypes.data), array)

    def upload(self, dst: Buffer, src: np.ndarray) -> None:
        np.copyto(dst.handle, _check_upload(dst, src))

    def download(self, src: Buffer) -> np.ndarray:
        return src.handle.copy()

    def copy(self, dst: Buffer, src: Buffer) -> None:
        np.copyto(dst.handle, src.handle)

    def zero(self, buf: Buffer) -> None:
        buf.handle.fill(0)

    def launch(self, launch: host.Launch) -> None:
        self.kernels.launch(launch)

    def synchronize(self) -> None:
        """Nothing to wait for: host launches return when done."""

    def close(self) -> None:
        """Nothing to release: the arrays go with their buffers."""

    def capture_graph(self, calls: list[Callable[[], None]]) -> Any:
        """The host device's "graph": the calls themselves, run by :meth:`replay_graph`."""
        return tuple(calls)

    def replay_graph(self, graph: Any) -> None:
        for call in graph:
            call()

    def staging(self, dst: Buffer) -> np.ndarray:
        return _held(dst, "upload_staging", np.zeros)

    def commit(self, dst: Buffer) -> None:
        np.copyto(dst.handle, self.staging(dst))

    def host_buffer(self, src: Buffer) -> np.ndarray:
        return _held(src, "download_target", np.zeros)

    def fetch(self, src: Buffer) -> None:
        np.copyto(self.host_buffer(src), src.handle)

    def enqueue(self, key: str, work: Callable[[], None]) -> None:
        work()


def _held(buf: Buffer, kind: str, make: Callable[[tuple[int, ...], np.dtype], Any]) -> Any:
    """``buf``'s host array ``kind`` (``upload_staging`` or ``download_target``), made by
    ``make(shape, dtype)`` on first use."""
    array = getattr(buf, kind)
    if array is None:
        array = make(buf.shape, buf.dtype)
        setattr(buf, kind, array)
    return array


CU_STREAM_NON_BLOCKING = 1  #: CUstream_flags: no implicit synchronisation with the legacy stream 0


class CudaDevice:
    """A CUDA device: torch buffers, pycuda kernels, one stream for kernels, copies and engines.

    Needs the CUDA build of torch and pycuda (``pip install 'reenact[gpu]'``); ``kernels.gpu.gpu_status``
    says why not. Uploads go through a pinned staging buffer per destination, downloads wait for the
    stream: one synchronisation per frame, at the download.

    The device's primary context (the one torch and TensorRT use) is pushed only around the pycuda
    calls that need it and popped before they return, on the same thread (:meth:`active`): pycuda
    aborts the process when a thread ends, or the interpreter exits, with a context left on that
    thread's stack ("context stack was not empty upon module cleanup"), so a device made on one thread
    and used on another (a live worker) leaves nothing pushed anywhere. :meth:`close` releases the
    stream and kernel modules inside that context. ``driver``, ``torch_cuda`` and ``kernels`` replace
    pycuda.driver, :class:`streamer.backends.torch_cuda.TorchCuda` and ``kernels.gpu.GpuKernels`` (tests without a GPU).
    """

    name = "cuda"

    def __init__(
        self,
        device: int = 0,
        artifacts: Any = None,
        *,
        driver: Any = None,
        torch_cuda: Any = None,
        kernels: Callable[[Any], Any] | None = None,
    ):
        if driver is None:
            from kernels.gpu import gpu_status

            ok, why = gpu_status()
            if not ok:
                raise RuntimeError(why)
            import pycuda.driver as driver
        if kernels is None:
            from kernels.gpu import GpuKernels as kernels
        self._driver = driver
        self._cuda = torch_cuda or TorchCuda(device)
        self._torch = self._cuda.torch
        self.device = self._cuda.device
        self._context = driver.Device(device).retain_primary_context()  # the context torch and TensorRT use
        self._pushed = threading.local()  # this thread's depth of active() blocks
        self.closed = False
        with self.active():  # pycuda objects record the context current when they are made
            # Non-blocking: no implicit ordering with the legacy default stream, which another live
            # stream's torch work may use while this one is captured into a CUDA graph (capturing a
            # blocking stream makes any legacy-stream use in the process invalidate the capture).
            self.stream = driver.Stream(flags=CU_STREAM_NON_BLOCKING)
            self.torch_stream = self._cuda.wrap_stream(self.stream.handle)
            self.kernels = kernels(artifacts)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """The primary context current on this thread inside the block; pushed on entry and popped on
        exit by this thread (re-entrant: nested blocks push once)."""
        depth = getattr(self._pushed, "depth", 0)
        if depth == 0:
            self._context.push()
        self._pushed.depth = depth + 1
        try:
            yield
        finally:
            self._pushed.depth = depth
            if depth == 0:
                self._context.pop()

    def _dtype(self, dtype: np.dtype) -> Any:
        torch = self._torch
        table = {np.uint8: torch.uint8, np.float32: torch.float32, np.float16: torch.float16, np.uint64: torch.int64}
        return table[np.dtype(dtype).type]

    def empty(self, shape: tuple[int, ...], dtype: type) -> Buffer:
        # Allocated and zero-filled on the device stream: ordered with the kernels that use it (the
        # stream is non-blocking, so the default stream would not be), and no legacy-stream work.
        with self._cuda.on(self.torch_stream):
            tensor = self._cuda.zeros(shape, self._dtype(np.dtype(dtype)))
        return Buffer(tuple(shape), np.dtype(dtype), int(tensor.data_ptr()), tensor)

    def adopt(self, tensor: Any, dtype: type) -> Buffer:
        """A buffer for memory someone else allocated (a TensorRT runner's binding)."""
        return Buffer(tuple(tensor.shape), np.dtype(dtype), int(tensor.data_ptr()), tensor)

    def _pinned(self, buf: Buffer, kind: str) -> Any:
        """``buf``'s pinned host tensor for uploads (``upload_staging``) or downloads (``download_target``)."""
        return _held(buf, kind, lambda shape, dtype: self._cuda.pinned(shape, self._dtype(dtype)))

    def _pinned_array(self, buf: Buffer, kind: str) -> np.ndarray:
        """The pinned tensor as NumPy (``uint64`` buffers: viewed as such over torch's int64)."""
        array = self._pinned(buf, kind).numpy()
        return array.view(np.uint64) if buf.dtype == np.uint64 else array

    def staging(self, dst: Buffer) -> np.ndarray:
        return self._pinned_array(dst, "upload_staging")

    def commit(self, dst: Buffer) -> None:
        with self._cuda.on(self.torch_stream):
            dst.handle.copy_(self._pinned(dst, "upload_staging"), non_blocking=True)

    def upload(self, dst: Buffer, src: np.ndarray) -> None:
        # The previous frame's copy from this staging buffer finished at that frame's download.
        np.copyto(self.staging(dst), _check_upload(dst, src))
        self.commit(dst)

    def host_buffer(self, src: Buffer) -> np.ndarray:
        return self._pinned_array(src, "download_target")

    def fetch(self, src: Buffer) -> None:
        with self._cuda.on(self.torch_stream):
            self._pinned(src, "download_target").copy_(src.handle, non_blocking=True)

    def download(self, src: Buffer) -> np.ndarray:
        self.fetch(src)
        self.synchronize()
        return self.host_buffer(src).copy()

    def enqueue(self, key: str, work: Callable[[], None]) -> None:
        work()  # engines queue on this device's stream themselves

    def copy(self, dst: Buffer, src: Buffer) -> None:
        with self._cuda.on(self.torch_stream):
            dst.handle.copy_(src.handle, non_blocking=True)

    def zero(self, buf: Buffer) -> None:
        with self._cuda.on(self.torch_stream):
            buf.handle.zero_()

    def launch(self, launch: host.Launch) -> None:
        with self.active():
            self.kernels.launch(launch, self.stream)

    def synchronize(self) -> None:
        with self.active():
            self.stream.synchronize()

    def capture_graph(self, calls: list[Callable[[], None]]) -> Any:
        """A CUDA graph of ``calls`` on the device stream (one context push for all their launches)."""
        with self.active():
            return self._cuda.capture(self.torch_stream, calls)

    def replay_graph(self, graph: Any) -> None:
        self._cuda.replay(self.torch_stream, graph)
        self.synchronize()

    def close(self) -> None:
        """Wait for the queued work, then release the kernel modules and the stream inside the context
        they were made in (idempotent; any thread)."""
        if self.closed:
            return
        self.closed = True
        with self.active():
            self.stream.synchronize()
            self.kernels = self.torch_stream = self.stream = None  # pycuda frees them here, context current

    def __enter__(self) -> CudaDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
