"""``CudaDevice`` on CPU stand-ins for pycuda and torch.cuda (tests/framepath/cuda_fakes.py): the logic
of issue #19's items that needs no GPU to check. The ``gpu``-marked tests remain the final word.

* item 5: pinned staging and download tensors live on the Buffer (made once, freed with it).
* item 1: the primary context is never left pushed on any thread (pycuda aborts the process when a
  thread, or the interpreter, ends with one pushed), whichever thread makes, uses or closes the device;
  every renderer that opens a device closes it.
* item 8: the device stream is non-blocking and buffers are allocated and zeroed on it.
* item 9: a captured frame's host work (the reenactor's draw, which on a GPU may run its own TensorRT
  warp and wait for it) runs before the capture; only the recorded device calls are issued inside it.
  The CudaDevice code paths render real frames here (CPU kernel build behind the fake driver), equal to
  the host device's.
"""

from __future__ import annotations

import numpy as np
import pytest

from streamer.compositor import CompositorConfig
from tests.framepath.cuda_fakes import FakeGpuKernels, fake_cuda_device


def _use(device) -> None:
    """What a frame does with the device: allocate, upload, launch, download, synchronise."""
    buf = device.empty((4, 4, 3), np.uint8)
    device.upload(buf, np.full((4, 4, 3), 7, np.uint8))
    device.launch(_launch(buf))
    assert int(device.download(buf)[0, 0, 0]) == 7
    device.synchronize()


def _launch(buf):
    from kernels import host

    out = host.PlanePointers("i420", 4, 4, (buf.ptr, buf.ptr + 16, buf.ptr + 20), (4, 2, 2))
    return host.to_yuv420_launch(buf.ptr, 12, "bgr", out)


def test_made_used_and_closed_on_different_threads_leaves_no_context_pushed():
    made = {}
    _, driver, _ = fake_cuda_device()  # a driver to run threads on; the device under test is made below
    from streamer.framepath.device import CudaDevice
    from tests.framepath.cuda_fakes import FakeTorchCuda

    def make() -> None:
        made["device"] = CudaDevice(
            driver=driver, torch_cuda=FakeTorchCuda(), kernels=lambda _a: FakeGpuKernels(driver)
        )

    driver.run_thread(make)  # e.g. the server's thread builds the renderer
    device = made["device"]
    driver.run_thread(lambda: _use(device))  # a live worker renders
    driver.run_thread(lambda: _use(device))  # ... and another one later
    driver.run_thread(device.close)  # whoever ends the stream closes it
    assert driver.left_pushed == [], f"threads ended with the context pushed: {driver.left_pushed}"
    assert driver.stack() == [], "the main thread holds a pushed context"
    assert device.closed
    assert device.kernels is None and device.stream is None


def test_pycuda_objects_are_made_and_freed_inside_the_context():
    device, driver, _ = fake_cuda_device()
    assert driver.stack() == []
    assert [handle for handle, _ in driver.streams] == [device.stream.handle]  # made with the context pushed
    device.close()
    assert driver.freed_in_context == [True], "the stream was destroyed without its context current"
    device.close()  # idempotent
    assert driver.stack() == []


def test_active_blocks_nest_and_pop_on_errors():
    device, driver, _ = fake_cuda_device()
    with device.active():
        with device.active():
            assert len(driver.stack()) == 1  # one push for nested blocks
        assert len(driver.stack()) == 1
    assert driver.stack() == []
    with pytest.raises(ValueError), device.active():
        raise ValueError("a launch failed")
    assert driver.stack() == []


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "graph"])
def test_every_renderer_that_opens_a_device_closes_it(monkeypatch, graph):
    """``create_device_renderer(..., "cuda")`` (convert, live streams, benchmarks.gpu): ``close()`` reaches
    the CudaDevice through the graph wrapper, and nothing is left pushed after building or closing."""
    from streamer.framepath import build
    from streamer.reenactors.geometric import GeometricReenactor

    opened = []

    def make_device():
        device, driver, _ = fake_cuda_device()
        opened.append((device, driver))
        return device

    monkeypatch.setattr(build, "CudaDevice", make_device)
    renderer = build.create_device_renderer(
        GeometricReenactor(), "cuda", compositor=CompositorConfig(color_match=False), graph=graph
    )
    ((device, driver),) = opened
    assert driver.stack() == []
    renderer.close()
    assert device.closed and driver.stack() == []


def test_the_device_stream_is_non_blocking_and_buffers_are_zeroed_on_it():
    """Item 8: with a blocking stream (flags 0) being captured, any use of the legacy default stream in
    the process (another live stream zero-filling a new buffer there) invalidates the capture."""
    from tests.framepath.cuda_fakes import NON_BLOCKING

    device, driver, torch_cuda = fake_cuda_device()
    assert driver.streams == [(device.stream.handle, NON_BLOCKING)]
    buf = device.empty((3, 4), np.float32)
    device.empty((2,), np.uint64)
    assert torch_cuda.allocations == [device.torch_stream, device.torch_stream], "allocated off the device stream"
    assert torch_cuda.current is None  # the stream context ended with the allocation
    assert not buf.handle.any()


@pytest.fixture(scope="module")
def canvas(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[:400, :360])


def test_graph_capture_holds_only_the_device_work(monkeypatch, canvas, image_detector):
    from kernels.cpu_build import cpu_kernels
    from streamer.framepath import build
    from streamer.pipeline import prepare_source
    from streamer.reenactors.geometric import GeometricReenactor
    from tests.framepath.test_framepath import _driven

    reenactor = GeometricReenactor()
    source = prepare_source(canvas, image_detector, reenactor)
    device, driver, torch_cuda = fake_cuda_device(cpu_kernels())
    drawn_while_capturing = []

    class DrawsOnItsOwnRunner:
        """The reenactor as the renderer sees it; its draw stands for a TensorRT warp with a host sync."""

        crop_size = reenactor.crop_size

        def step(self, state, driver_face, reference):
            drawn_while_capturing.append(torch_cuda.capturing)
            return reenactor.step(state, driver_face, reference)

    monkeypatch.setattr(build, "CudaDevice", lambda: device)
    config = CompositorConfig(color_match=False)
    renderer = build.create_device_renderer(DrawsOnItsOwnRunner(), "cuda", compositor=config, graph=True)
    host = build.create_device_renderer(reenactor, "cpu", compositor=config, graph=False)
    renderer.prepare(source)
    host.prepare(source)
    frames = []
    for i in range(4):  # eager warm-up, capture, two replays
        face = _driven(source.landmarks, mouth=2.0 * i, turn=1.5 * i)
        launched = len(device.kernels.launches)
        got = renderer.render(source, face, source.landmarks)
        frames.append(device.kernels.launches[launched:])
        np.testing.assert_array_equal(got, host.render(source, face, source.landmarks), err_msg=f"frame {i}")
    assert (renderer.captures, renderer.replays, torch_cuda.captures) == (1, 2, 1)
    assert drawn_while_capturing == [False] * 4, "the reenactor drew inside the CUDA graph capture"
    eager, captured = frames[0], frames[1]
    assert eager and not any(inside for _, _, inside in eager)
    # The capture frame's launches were all issued inside the capture (then once more by its replay).
    assert [inside for _, _, inside in captured] == [True] * len(eager) + [False] * len(eager)
    renderer.close()
    assert driver.stack() == [] and driver.left_pushed == []


def test_pinned_staging_lives_on_the_buffer():
    """Item 5 on the CUDA device: pinned staging/download tensors are the buffer's own, made once, of its
    shape (uint64 viewed as such over torch's int64), and freed with it."""
    import gc
    import weakref

    device, _, _ = fake_cuda_device()
    for i in range(20):  # CPython hands a freed buffer's id to the next one at once
        shape, dtype = ((7,), np.uint64) if i % 2 else ((2, 3), np.float32)
        buf = device.empty(shape, dtype)
        staging, target = device.staging(buf), device.host_buffer(buf)
        assert staging.shape == target.shape == shape and staging.dtype == target.dtype == dtype
        assert device.staging(buf).ctypes.data == staging.ctypes.data  # a fixed address per buffer
        assert buf.upload_staging is not None and buf.download_target is not None
        del buf, staging, target
    buf = device.empty((4,), np.uint8)
    device.staging(buf)
    ref = weakref.ref(buf.upload_staging)
    del buf
    gc.collect()
    assert ref() is None, "the pinned staging tensor outlived its buffer"
