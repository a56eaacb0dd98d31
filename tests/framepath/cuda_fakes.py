"""CPU stand-ins for what ``CudaDevice`` drives on a GPU: pycuda's driver (a per-thread context stack
that records what is current when objects are made, used and freed) and the torch CUDA calls
(``TorchCuda``: CPU tensors, a "current stream" the tests can check). With the CPU build of the
kernels behind it, a ``CudaDevice`` renders real frames here, through its own code paths.

The fake stack follows pycuda's rules that matter here: ``Context.pop`` pops the calling thread's top,
objects are made in the current context (none current: pycuda raises), and a thread that ends with a
context still pushed is recorded as the abort pycuda would raise ("context stack was not empty")."""

from __future__ import annotations

import contextlib
import itertools
import threading
from typing import Any

import numpy as np
import torch

NON_BLOCKING = 1  # CU_STREAM_NON_BLOCKING


class FakeDriver:
    """pycuda.driver as far as ``CudaDevice`` uses it."""

    def __init__(self) -> None:
        self._stacks = threading.local()
        self.left_pushed: list[str] = []  # threads that ended with a context pushed (pycuda: abort)
        self.streams: list[tuple[int, int]] = []  # (handle, flags) of every stream made
        self.freed_in_context: list[bool] = []  # per freed stream: was its context current?
        self.primary = FakeContext(self)
        self._handles = itertools.count(0x1000)
        driver = self

        class Device:
            def __init__(self, index: int) -> None:
                self.index = index

            def retain_primary_context(self) -> FakeContext:
                return driver.primary

        class Stream(FakeStream):
            def __init__(self, flags: int = 0) -> None:
                super().__init__(driver, flags)

        self.Device, self.Stream = Device, Stream

    def stack(self) -> list:
        if not hasattr(self._stacks, "items"):
            self._stacks.items = []
        return self._stacks.items

    def current(self) -> Any:
        stack = self.stack()
        return stack[-1] if stack else None

    def run_thread(self, work) -> None:
        """Run ``work`` on a new thread and record it if it ends with a context still pushed."""
        errors: list[BaseException] = []

        def body() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
                errors.append(exc)
            if self.stack():
                self.left_pushed.append(threading.current_thread().name)

        thread = threading.Thread(target=body)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]


class FakeContext:
    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver

    def push(self) -> None:
        self.driver.stack().append(self)

    def pop(self) -> None:
        stack = self.driver.stack()
        if not stack:
            raise RuntimeError("cannot pop non-current context")  # pycuda's LogicError
        stack.pop()


class FakeStream:
    def __init__(self, driver: FakeDriver, flags: int) -> None:
        if driver.current() is None:
            raise RuntimeError("explicit_context_dependent: no currently active context?")  # as pycuda
        self.driver, self.flags, self.handle = driver, flags, next(driver._handles)
        self.synchronized = 0
        driver.streams.append((self.handle, flags))

    def synchronize(self) -> None:
        self.synchronized += 1

    def __del__(self) -> None:
        self.driver.freed_in_context.append(self.driver.current() is self.driver.primary)


class FakeTorchStream:
    def __init__(self, handle: int) -> None:
        self.cuda_stream = handle


class FakeTorchCuda:
    """``streamer.backends.torch_cuda.TorchCuda`` on the CPU; records on which stream torch work was queued."""

    def __init__(self) -> None:
        self.torch = torch
        self.device = torch.device("cpu")
        self.current: Any = None  # None: torch's default (legacy) stream
        self.allocations: list[Any] = []  # the current stream at each device allocation
        self.capturing = False
        self.captures = 0

    def wrap_stream(self, handle: int) -> FakeTorchStream:
        return FakeTorchStream(handle)

    @contextlib.contextmanager
    def on(self, stream: Any):
        previous, self.current = self.current, stream
        try:
            yield
        finally:
            self.current = previous

    def zeros(self, shape, dtype):
        self.allocations.append(self.current)
        return torch.zeros(shape, dtype=dtype)

    def pinned(self, shape, dtype):
        return torch.empty(shape, dtype=dtype)

    def capture(self, stream: Any, calls) -> tuple:
        """Issue ``calls`` as a capture would (flagged ``capturing``; unlike CUDA they also run now, which
        the frame path's calls tolerate: each frame's work overwrites what it reads back)."""
        self.capturing, self.captures = True, self.captures + 1
        try:
            with self.on(stream):
                for call in calls:
                    call()
        finally:
            self.capturing = False
        return tuple(calls)

    def replay(self, stream: Any, graph: tuple) -> None:
        with self.on(stream):
            for call in graph:
                call()


class FakeGpuKernels:
    """``kernels.gpu.GpuKernels`` over the CPU build: host pointers stand in for device ones."""

    def __init__(self, driver: FakeDriver, cpu: Any = None, torch_cuda: FakeTorchCuda | None = None) -> None:
        if driver.current() is None:
            raise RuntimeError("no current CUDA context: push one first")  # as GpuKernels
        self.driver, self.cpu, self.torch_cuda = driver, cpu, torch_cuda
        self.launches: list[tuple[str, Any, bool]] = []  # (kernel, stream, issued inside a capture)

    def launch(self, launch: Any, stream: Any = None) -> None:
        if self.driver.current() is not self.driver.primary:
            raise RuntimeError("kernel launched with no current context")
        self.launches.append((launch.kernel, stream, bool(self.torch_cuda and self.torch_cuda.capturing)))
        if self.cpu is not None:
            self.cpu.launch(launch)


def fake_cuda_device(cpu: Any = None):
    """(CudaDevice on the fakes, its FakeDriver, its FakeTorchCuda); ``cpu``: the CPU kernel build."""
    from streamer.framepath.device import CudaDevice

    driver, torch_cuda = FakeDriver(), FakeTorchCuda()
    device = CudaDevice(
        driver=driver, torch_cuda=torch_cuda, kernels=lambda _artifacts: FakeGpuKernels(driver, cpu, torch_cuda)
    )
    return device, driver, torch_cuda


def as_array(buffer) -> np.ndarray:
    return buffer.handle.numpy()
