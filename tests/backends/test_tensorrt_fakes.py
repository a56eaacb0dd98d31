"""``TensorRTRunner``'s logic on CPU stand-ins for tensorrt and torch.cuda (tests/backends/trt_fakes.py):
issue #19's item 3. The ``gpu``-marked tests remain the final word."""

from __future__ import annotations

import pytest

from tests.backends.trt_fakes import WARP, FakeTrt, runner


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
    assert not [e for e in log if e[0] == "wait"]


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
