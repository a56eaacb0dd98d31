"""``TensorRTRunner``'s logic on CPU stand-ins for tensorrt and torch.cuda (tests/backends/trt_fakes.py):
issue #19's items 3, 6 and 10 (runner side). The ``gpu``-marked tests remain the final word."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.trt_fakes import WARP, FakeTrt, run_threads, runner


@pytest.fixture
def log() -> list:
    return []


@pytest.fixture
def trt(log) -> FakeTrt:
    return FakeTrt(WARP, log)


def _queued(log: list) -> list:
    return [entry for entry in log if entry[0] in ("execute", "wait", "record")]


def test_a_consumer_on_another_stream_waits_for_its_producer(trt, log):
    """Item 3: each runner has its own stream; the consumer's run waits on the producer's event, and the
    producer's next run waits on the consumer's (it must not overwrite what is still being read)."""
    first, second = runner(trt, log, "first"), runner(trt, log, "second")
    a, b = first.stream.cuda_stream, second.stream.cuda_stream
    assert a != b
    second.bind("image", first.buffers["warped"], producer=first)
    log.clear()
    first.enqueue()
    second.enqueue()
    first.enqueue()
    ctx1, ctx2 = first.context.id, second.context.id
    assert _queued(log) == [
        ("wait", a, "second.done"),  # nothing recorded yet: a no-op on a GPU
        ("execute", ctx1, a),
        ("record", a, "first.done"),
        ("wait", b, "first.done"),  # the consumer reads only after the producer wrote
        ("execute", ctx2, b),
        ("record", b, "second.done"),
        ("wait", a, "second.done"),  # the producer overwrites only after the consumer read
        ("execute", ctx1, a),
        ("record", a, "first.done"),
    ]


def test_runners_on_one_stream_need_no_events(trt, log):
    first = runner(trt, log, "first", stream_handle=7)
    second = runner(trt, log, "second", stream_handle=7)
    second.bind("image", first.buffers["warped"], producer=first)
    log.clear()
    first.enqueue()
    second.enqueue()
    assert [e[0] for e in _queued(log)] == ["execute", "execute"]  # no waits, no event records


def test_rebinding_drops_the_ordering(trt, log):
    first, second = runner(trt, log, "first"), runner(trt, log, "second")
    second.bind("image", first.buffers["warped"], producer=first)
    second.bind("image", trt_tensor(second))  # its own buffer again: no producer
    log.clear()
    first.enqueue()
    second.enqueue()
    assert not [e for e in log if e[0] == "wait"]


def trt_tensor(r):
    import torch

    return torch.zeros(tuple(r.buffers["image"].shape))


def test_one_runner_shared_by_threads_runs_one_inference_at_a_time(trt, log):
    """Item 6: TensorRT needs one execution context per concurrently running thread; a runner has one
    (and one set of buffers), so concurrent ``infer`` calls (live streams sharing the RFG's runners
    through ``_shared_runner``) must take turns."""
    shared = runner(trt, log, "shared")
    feeds = {"image": np.zeros((1, 3, 4, 4), np.float32)}

    def work() -> None:
        for _ in range(5):
            shared.infer(feeds)

    run_threads(work, 4)
    assert sum(1 for e in log if e[0] == "execute") == 20
    assert trt.most_running == 1, "two threads ran the one execution context at once"


def test_refused_shapes_and_addresses_raise(trt, log):
    """Item 10: ``set_input_shape`` / ``set_tensor_address`` report refusal by returning False."""
    trt.accept_shapes = False
    with pytest.raises(RuntimeError, match="refused input shape"):
        runner(trt, log, "r")
    trt.accept_shapes, trt.accept_addresses = True, False
    with pytest.raises(RuntimeError, match="refused the address"):
        runner(trt, log, "r")
    trt.accept_addresses = True
    r = runner(trt, log, "r")
    trt.accept_addresses = False
    with pytest.raises(RuntimeError, match="refused the address"):
        r.bind("image", trt_tensor(r))


def test_failed_execution_and_engine_raise(trt, log):
    with pytest.raises(RuntimeError, match="deserialise"):
        from streamer.backends.tensorrt import TensorRTRunner
        from tests.backends.trt_fakes import FakeCuda

        TensorRTRunner(b"not an engine", trt=trt, cuda=FakeCuda(log))
    r = runner(trt, log, "r")
    trt.execute_ok = False
    with pytest.raises(RuntimeError, match="execute_async_v3 failed"):
        r.enqueue()


def test_bind_refuses_non_contiguous_and_mismatched_tensors(trt, log):
    """Item 10: TensorRT reads a dense buffer at the address: a strided view would be read wrongly."""
    import torch

    r = runner(trt, log, "r")
    wide = torch.zeros((1, 3, 4, 8))
    with pytest.raises(ValueError, match="non-contiguous"):
        r.bind("image", wide[..., ::2])
    with pytest.raises(ValueError, match="expected"):
        r.bind("image", torch.zeros((1, 3, 4, 4), dtype=torch.float16))


def test_capture_again_runs_the_engine_before_capturing(trt, log):
    """Item 10: ``capture()``'s warm-up used ``enqueue()``, which replays an existing graph instead of
    running the engine with the (possibly new) bindings."""
    r = runner(trt, log, "r")
    r.capture()
    r.enqueue()
    log.clear()
    r.capture()
    kinds = [e[0] for e in log]
    assert kinds.index("execute") < kinds.index("capture") and "replay" not in kinds


def test_capture_refuses_runners_bound_across_streams(trt, log):
    first, second = runner(trt, log, "first"), runner(trt, log, "second")
    second.bind("image", first.buffers["warped"], producer=first)
    with pytest.raises(RuntimeError, match="own stream"):
        second.capture()


def test_every_runner_and_builder_shares_one_logger(trt, log):
    """Item 10: TensorRT holds one logger per process; each runner made its own ``trt.Logger``."""
    from export.tensorrt_build import tensorrt_logger

    runner(trt, log, "a")
    runner(trt, log, "b")
    assert len(trt.runtime_loggers) == 2
    assert trt.runtime_loggers[0] is trt.runtime_loggers[1] is tensorrt_logger(trt)


def test_rfg_tensorrt_parts_shared_by_live_streams_take_turns(log):
    """Item 6 where it bites: ``_shared_runner`` hands every live stream the same ``_TrtParts``, whose
    ``run`` goes through the runner's ``infer`` (and so its lock)."""
    from streamer.reenactors.rfg import _TrtParts, graph_inputs
    from tests.backends.trt_fakes import DataType, TensorIOMode

    spec = {name: (TensorIOMode.INPUT, (1, 1, 4, 4), DataType.FLOAT) for name in ("prev", "lm_prev", "lm_tgt")}
    trt = FakeTrt({**spec, "output": (TensorIOMode.OUTPUT, (1, 3, 4, 4), DataType.FLOAT)}, log)
    parts = object.__new__(_TrtParts)  # its __init__ builds engines from the networks: needs a GPU
    parts.runners, parts.inputs = {"rfg_local": runner(trt, log, "rfg_local")}, graph_inputs()
    zeros = np.zeros((1, 1, 4, 4), np.float32)

    def stream() -> None:
        for _ in range(5):
            (out,) = parts.run("rfg_local", zeros, zeros, zeros)
            assert out.shape == (1, 3, 4, 4) and out.dtype == np.float32

    run_threads(stream, 3)
    assert trt.most_running == 1


@pytest.mark.parametrize("revealed", [False, True])
def test_rfg_tensorrt_parts_build_engines_with_the_weights_inputs(monkeypatch, revealed):
    """``_TrtParts`` builds each engine from the registry entry that fits the networks (``rfg_global``
    with the revealed mask for revealed-input weights) and feeds every input by name."""
    import export.tensorrt_build
    import streamer.backends.tensorrt
    import streamer.framepath.build
    from streamer.models.rfg import build_networks
    from streamer.models.rfg_config import RFGConfig
    from streamer.reenactors.rfg import _TrtParts, graph_inputs

    class StubRunner:
        def __init__(self, net, precision):
            self.net, self.output_spec, self.feeds = net, net.outputs, []

        def infer(self, feeds):
            self.feeds.append(feeds)
            return {s.name: np.zeros(s.batched(1), np.float32) for s in self.output_spec}

    monkeypatch.setattr(export.tensorrt_build, "tensorrt_status", lambda: (True, "stub"))
    monkeypatch.setattr(streamer.framepath.build, "engine_for_module", lambda net, module, precision: net)
    monkeypatch.setattr(streamer.backends.tensorrt, "TensorRTRunner", StubRunner)
    parts = _TrtParts(build_networks(RFGConfig(revealed_input=revealed)))
    want = graph_inputs(revealed)
    assert {name: [s.name for s in r.net.inputs] for name, r in parts.runners.items()} == want
    feeds = [np.zeros(s.batched(1), np.float32) for s in parts.runners["rfg_global"].net.inputs]
    (out,) = parts.run("rfg_global", *feeds)
    assert out.shape == (1, 3, 256, 256)
    assert list(parts.runners["rfg_global"].feeds[0]) == want["rfg_global"]
    assert ("revealed" in want["rfg_global"]) == revealed
