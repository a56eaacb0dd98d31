"""The kernel frame path on an NVIDIA GPU (CudaDevice + TensorRT engines) against the host path.

Skipped without a GPU, pycuda and TensorRT (the reason says which is missing); run with ``-m gpu``
on a GPU machine. Tolerance: TensorRT's fp32 kernels are not bit-identical to onnxruntime's, so the
frames may differ by a level or two where the generator's output rounds differently.
"""

from __future__ import annotations

import numpy as np
import pytest

from streamer.framepath.build import create_device_renderer, kernel_device_status
from streamer.reenactors.geometric import GeometricReenactor
from streamer.reenactors.rfg import DEFAULT_WEIGHTS, RFGReenactor

pytestmark = pytest.mark.gpu

WHERE, WHY = kernel_device_status()
needs_gpu = pytest.mark.skipif(WHERE != "cuda", reason=f"needs an NVIDIA GPU with pycuda and TensorRT: {WHY}")


def _case(generator: str, astronaut, image_detector):
    """(reenactor, canvas, prepared source) for ``generator`` on a crop of the astronaut."""
    from streamer.pipeline import prepare_source

    if generator == "rfg" and not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped RFG weights")
    reenactor = GeometricReenactor() if generator == "geometric" else RFGReenactor(integrator="global")
    canvas = np.ascontiguousarray(astronaut[:500, :480])
    return reenactor, canvas, prepare_source(canvas, image_detector, reenactor)


@needs_gpu
@pytest.mark.parametrize("generator", ["geometric", "rfg"])
def test_cuda_frame_path_matches_host(generator, astronaut, image_detector):
    from streamer.compositor import Compositor

    reenactor, canvas, source = _case(generator, astronaut, image_detector)
    renderer = create_device_renderer(reenactor, "cuda")
    assert renderer.device.name == "cuda"
    renderer.prepare(source)
    want = Compositor(reenactor.crop_size).paste(
        canvas, reenactor.step(source.state, source.landmarks, source.landmarks), source.affine
    )
    got = renderer.render(source, source.landmarks, source.landmarks)
    diff = np.abs(got.astype(int) - want.astype(int))
    tol = 0 if generator == "geometric" else 3
    assert diff.max() <= tol, f"{int((diff > tol).sum())} pixels differ by more than {tol}"


@needs_gpu
@pytest.mark.parametrize("generator", ["geometric", "rfg"])
def test_cuda_graph_replays_the_eager_frames(generator, astronaut, image_detector):
    """The captured CUDA graph (uploads, kernels, TensorRT, download) writes the eager path's frames."""
    from streamer.framepath.graph import GraphRenderer
    from tests.framepath.test_framepath import _driven

    reenactor, _, source = _case(generator, astronaut, image_detector)
    eager = create_device_renderer(reenactor, "cuda", graph=False)
    graphed = create_device_renderer(reenactor, "cuda", graph=True)
    assert isinstance(graphed, GraphRenderer)
    eager.prepare(source)
    graphed.prepare(source)
    for i in range(5):
        driver = _driven(source.landmarks, mouth=2.0 * i, turn=1.5 * i)
        a = eager.render(source, driver, source.landmarks)
        b = graphed.render(source, driver, source.landmarks)
        assert np.array_equal(a, b), f"frame {i}"
    assert graphed.captures == 1 and graphed.replays == 3


_THREADED_DEVICE = """
import threading

import numpy as np

from kernels import host
from streamer.framepath.device import CudaDevice

made = {}


def make():
    made["device"] = CudaDevice()


def use():
    device = made["device"]
    buf = device.empty((4, 4, 3), np.uint8)
    device.upload(buf, np.full((4, 4, 3), 7, np.uint8))
    out = host.PlanePointers("i420", 4, 4, (buf.ptr, buf.ptr + 16, buf.ptr + 20), (4, 2, 2))
    device.launch(host.to_yuv420_launch(buf.ptr, 12, "bgr", out))
    device.download(buf)


for work in (make, use, use):
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
print("exited cleanly")
"""


@needs_gpu
def test_a_device_made_and_used_on_ending_threads_exits_cleanly():
    """Issue #19 item 1 on a GPU: pycuda aborts the process (SIGABRT, "context stack was not empty upon
    module cleanup") when a thread or the interpreter ends with a context pushed."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _THREADED_DEVICE], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "exited cleanly" in run.stdout, run.stderr[-3000:]
