"""CPU stand-ins for the tensorrt module and torch.cuda as ``TensorRTRunner`` uses them.

The fake engine has named inputs and outputs; its execution context checks shapes and addresses the
way TensorRT reports them (``set_input_shape`` / ``set_tensor_address`` return False when refused) and
logs every ``execute_async_v3``, stream wait, event record and graph replay in one shared list, so the
tests can read the order in which work was queued on which stream."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from types import SimpleNamespace
from typing import Any

import torch

DataType = SimpleNamespace(FLOAT="float", HALF="half", INT32="int32", INT8="int8", BOOL="bool", INT64="int64")
TensorIOMode = SimpleNamespace(INPUT="input", OUTPUT="output")


class Logger:
    WARNING = 2

    def __init__(self, level: int) -> None:
        self.level = level


class FakeTrt:
    """The tensorrt module: ``tensors`` maps name -> (mode, shape, DataType) for every engine it loads."""

    DataType, TensorIOMode, Logger = DataType, TensorIOMode, Logger

    def __init__(self, tensors: dict[str, tuple[str, tuple[int, ...], str]], log: list) -> None:
        self.tensors, self.log = tensors, log
        self.accept_shapes = self.accept_addresses = self.execute_ok = True
        self.runtime_loggers: list[Any] = []
        self.running = 0
        self.most_running = 0
        trt = self

        class Runtime:
            def __init__(self, logger: Any) -> None:
                trt.runtime_loggers.append(logger)

            def deserialize_cuda_engine(self, data: bytes) -> Any:
                return None if data == b"not an engine" else FakeEngine(trt)

        self.Runtime = Runtime


class FakeEngine:
    def __init__(self, trt: FakeTrt) -> None:
        self.trt = trt
        self.names = list(trt.tensors)
        self.num_io_tensors = len(self.names)

    def get_tensor_name(self, i: int) -> str:
        return self.names[i]

    def get_tensor_mode(self, name: str) -> str:
        return self.trt.tensors[name][0]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.trt.tensors[name][1]

    def get_tensor_dtype(self, name: str) -> str:
        return self.trt.tensors[name][2]

    def create_execution_context(self) -> FakeContext:
        return FakeContext(self)


_ids = itertools.count(1)
_stream_handles = itertools.count(100)


class FakeContext:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine, self.trt, self.id = engine, engine.trt, next(_ids)
        self.shapes = {n: tuple(max(d, 1) for d in engine.get_tensor_shape(n)) for n in engine.names}
        self.addresses: dict[str, int] = {}

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        if not self.trt.accept_shapes:
            return False
        self.shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[name]

    def set_tensor_address(self, name: str, address: int) -> bool:
        if not self.trt.accept_addresses:
            return False
        self.addresses[name] = address
        return True

    def execute_async_v3(self, stream: int) -> bool:
        trt = self.trt
        trt.running += 1
        trt.most_running = max(trt.most_running, trt.running)
        time.sleep(0.002)  # long enough for another thread to enter if nothing keeps it out
        trt.log.append(("execute", self.id, stream))
        trt.running -= 1
        return trt.execute_ok


class FakeStream:
    def __init__(self, handle: int, log: list) -> None:
        self.cuda_stream, self.log = handle, log

    def wait_event(self, event: FakeEvent) -> None:
        self.log.append(("wait", self.cuda_stream, event.name))

    def synchronize(self) -> None:
        self.log.append(("sync", self.cuda_stream))


class FakeEvent:
    def __init__(self, name: str, log: list) -> None:
        self.name, self.log = name, log

    def record(self, stream: FakeStream) -> None:
        self.log.append(("record", stream.cuda_stream, self.name))


class FakeCuda:
    """``streamer.backends.torch_cuda.TorchCuda`` on the CPU (tensors on the CPU, streams are handles)."""

    def __init__(self, log: list, name: str = "runner") -> None:
        self.torch, self.device, self.log, self.name = torch, torch.device("cpu"), log, name

    def new_stream(self) -> FakeStream:
        return FakeStream(next(_stream_handles), self.log)

    def wrap_stream(self, handle: int) -> FakeStream:
        return FakeStream(handle, self.log)

    def on(self, stream: Any):
        return contextlib.nullcontext()

    def event(self) -> FakeEvent:
        return FakeEvent(f"{self.name}.done", self.log)

    def empty(self, shape, dtype):
        return torch.zeros(shape, dtype=dtype)

    def capture(self, stream: FakeStream, calls) -> tuple:
        self.log.append(("capture", stream.cuda_stream))
        return tuple(calls)

    def replay(self, stream: FakeStream, graph: tuple) -> None:
        self.log.append(("replay", stream.cuda_stream))


WARP = {
    "image": (TensorIOMode.INPUT, (-1, 3, 4, 4), DataType.FLOAT),
    "warped": (TensorIOMode.OUTPUT, (-1, 3, 4, 4), DataType.FLOAT),
}


def runner(trt: FakeTrt, log: list, name: str, stream_handle: int | None = None):
    from streamer.backends.tensorrt import TensorRTRunner

    return TensorRTRunner(b"engine", "fp32", stream_handle=stream_handle, trt=trt, cuda=FakeCuda(log, name))


def run_threads(work, count: int) -> None:
    threads = [threading.Thread(target=work) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
