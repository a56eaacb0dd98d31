"""Host memory tied to frame-path buffers (issue #19 item 5): the staging and download arrays live on the
``Buffer`` itself, so they die with it and a new buffer never inherits a dead one's array.

The pinned (CUDA) side is tested with a stand-in device in test_framepath_cuda_fakes.py."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from streamer.framepath.device import HostDevice


def _device() -> HostDevice:
    return HostDevice(kernels=object())  # no kernel runs here: skip building the CPU library


def test_new_buffers_never_inherit_a_dead_buffers_arrays():
    """CPython reuses a freed object's id at once; a table keyed by ``id(buffer)`` handed the next buffer
    the old (4,) uint8 array. Each fresh buffer must get arrays of its own shape and dtype."""
    dev = _device()
    for i in range(50):
        shape, dtype = ((4,), np.uint8) if i % 2 else ((2, 3), np.float32)
        buf = dev.empty(shape, dtype)
        for array in (dev.staging(buf), dev.host_buffer(buf)):
            assert array.shape == shape and array.dtype == dtype
        del buf


def test_host_arrays_are_fixed_per_buffer_and_freed_with_it():
    dev = _device()
    buf = dev.empty((8, 8, 3), np.uint8)
    staging, target = dev.staging(buf), dev.host_buffer(buf)
    assert dev.staging(buf) is staging and dev.host_buffer(buf) is target  # fixed addresses (CUDA graphs)
    assert staging is not target
    refs = [weakref.ref(staging), weakref.ref(target)]
    del buf, staging, target
    gc.collect()
    assert all(ref() is None for ref in refs), "the buffer's host arrays outlived it"


def test_commit_and_fetch_go_through_the_buffers_arrays():
    dev = _device()
    buf = dev.empty((3, 5), np.float32)
    dev.staging(buf)[:] = np.arange(15, dtype=np.float32).reshape(3, 5)
    dev.commit(buf)
    dev.fetch(buf)
    np.testing.assert_array_equal(dev.host_buffer(buf), np.arange(15).reshape(3, 5))
