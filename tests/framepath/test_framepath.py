"""The kernel frame path on the CPU (kernel twins + onnxruntime IOBinding) against the host path.

The same classes run on a GPU with ``CudaDevice`` and TensorRT engines (``-m gpu``, skipped here):
only the device and engine objects differ, so these tests check everything but the CUDA calls.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels import reference as ref
from kernels.frames import BGR_PIXELS, BGR_SIGNED
from streamer.compositor import Compositor, CompositorConfig
from streamer.framepath.build import create_device_renderer, resolve_frame_path
from streamer.framepath.compositor import DeviceCompositor, DeviceCompositorConfig
from streamer.framepath.device import HostDevice
from streamer.framepath.generators import HostCrop, RFGGlobalOnDevice
from streamer.pipeline import ReenactmentPipeline, prepare_source
from streamer.reenactors.geometric import GeometricReenactor
from streamer.reenactors.rfg import DEFAULT_WEIGHTS, RFGReenactor

needs_rfg = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped RFG weights")


@pytest.fixture(scope="module")
def device():
    return HostDevice()


@pytest.fixture(scope="module")
def canvas(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[:500, :480])  # even sizes, not square


def _driven(face, mouth: float = 6.0, turn: float = 4.0):
    """The face with the jaw and lower lip moved down and the whole face shifted (a driver frame)."""
    pts = face.points.copy()
    pts[48:68, 1] += np.linspace(0, mouth, 20)
    pts[5:12, 1] += mouth / 2
    pts[:, 0] += turn
    return type(face)(pts, face.visibility)


@pytest.mark.parametrize("layout", [BGR_PIXELS, BGR_SIGNED], ids=["bgr-pixels", "bgr-signed"])
@pytest.mark.parametrize("color_match", [True, False])
def test_device_compositor_matches_compositor(device, canvas, layout, color_match):
    affine = np.array([[0.9, 0.1, -120.0], [-0.1, 0.9, -60.0]])
    rng = np.random.default_rng(1)
    crop = rng.integers(0, 256, (256, 256, 3), np.uint8)
    tensor = ref.normalize(crop[..., ::-1].copy(), layout)[None]  # normalize takes RGB
    config = CompositorConfig(color_match=color_match)
    comp = DeviceCompositor(device, 256, DeviceCompositorConfig(config, "bgr"))
    comp.set_canvas(canvas, affine)
    buf = device.empty(tensor.shape, np.float32)
    device.upload(buf, tensor)
    got = comp.compose(buf, layout)
    want = Compositor(256, config).paste(canvas, crop, affine)
    assert np.array_equal(got, want)
    assert np.array_equal(comp.compose(buf, layout), want)  # the canvas is untouched between frames

    yuv = DeviceCompositor(device, 256, DeviceCompositorConfig(config, "i420"))
    yuv.set_canvas(canvas, affine)
    planes = ref.rgb_to_yuv420(want, "i420", "bgr")
    assert np.array_equal(
        yuv.compose(buf, layout), np.concatenate([p.reshape(-1) for p in planes.planes]).reshape(-1, 480)
    )


def test_compositor_rejects_bad_input(device, canvas):
    comp = DeviceCompositor(device, 256, DeviceCompositorConfig(output="i420"))
    with pytest.raises(ValueError, match="even"):
        comp.set_canvas(canvas[:499], np.eye(2, 3))
    with pytest.raises(RuntimeError, match="set_canvas"):
        comp.compose(device.empty((1, 3, 256, 256), np.float32), BGR_PIXELS)


def _compare_paths(reenactor, canvas, image_detector, frames: int = 3) -> None:
    """Host pipeline (step + Compositor.paste) and the device renderer give the same frames."""
    source = prepare_source(canvas, image_detector, reenactor)
    renderer = create_device_renderer(reenactor, "cpu")
    compositor = Compositor(reenactor.crop_size)
    renderer.prepare(source)
    for i in range(frames):
        driver = _driven(source.landmarks, mouth=3.0 * i, turn=2.0 * i)
        want = compositor.paste(canvas, reenactor.step(source.state, driver, source.landmarks), source.affine)
        got = renderer.render(source, driver, source.landmarks)
        assert got.shape == want.shape
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() == 0, f"frame {i}: {int((diff > 0).sum())} pixels differ, max {diff.max()}"


def test_host_crop_matches_host_path(canvas, image_detector):
    """The geometric reenactor draws on the host; its crop is pasted on the device."""
    _compare_paths(GeometricReenactor(), canvas, image_detector)


@needs_rfg
def test_rfg_global_on_device_matches_host_path(canvas, image_detector):
    """rfg_source runs from the uploaded canvas and feeds rfg_global on the device: same frames."""
    _compare_paths(RFGReenactor(integrator="global", backend="onnxruntime"), canvas, image_detector)


@needs_rfg
def test_rfg_global_local_draws_on_the_host():
    """The local integrator's memory lives on the host: global-local draws there, pastes on the device."""
    reenactor = RFGReenactor(integrator="global-local", backend="onnxruntime")
    assert isinstance(create_device_renderer(reenactor, "cpu").generator, HostCrop)
    with pytest.raises(ValueError, match="global integrator only"):
        RFGGlobalOnDevice(HostDevice(), reenactor, {})


def test_pipeline_uses_the_renderer(canvas, image_detector):
    """ReenactmentPipeline(renderer=...) draws through it, and falls back to the canvas with no face."""
    reenactor = GeometricReenactor()
    source = prepare_source(canvas, image_detector, reenactor)

    class Replay:
        def __init__(self, faces):
            self.faces = list(faces)

        def update(self, frame):
            return self.faces.pop(0)

    faces = [source.landmarks, _driven(source.landmarks), None]
    host = ReenactmentPipeline(source, Replay(faces), reenactor, Compositor(256))
    device = ReenactmentPipeline(
        source, Replay(faces), reenactor, None, renderer=create_device_renderer(reenactor, "cpu")
    )
    for _ in faces:
        a, b = host.process(canvas), device.process(canvas)
        assert a.face_found == b.face_found and np.array_equal(a.image, b.image)


def test_resolve_frame_path():
    assert resolve_frame_path("auto", "tensorrt") == "kernels"
    assert resolve_frame_path("auto", "opencv") == "opencv"
    assert resolve_frame_path("kernels", "opencv") == "kernels"
    with pytest.raises(Exception, match="frame-path"):
        resolve_frame_path("gpu", "opencv")


@needs_rfg
def test_rfg_on_tensorrt_says_why_not_here():
    """Without TensorRT the RFG's tensorrt backend is one clear error, not an import traceback."""
    from export.tensorrt_build import tensorrt_status
    from streamer.errors import InputError

    if tensorrt_status()[0]:
        pytest.skip("TensorRT is installed here")
    with pytest.raises(InputError, match="cannot run on TensorRT here"):
        RFGReenactor(integrator="global", backend="tensorrt")


def test_rfg_global_on_device_uploads_the_revealed_mask(canvas, image_detector, tmp_path, monkeypatch):
    """Revealed-input weights on a mesh-warp source: the device path uploads the mask of each frame and
    draws what the host path draws, while the head turns (a turn reveals pixels the photo hides)."""
    from streamer.models.rfg_inputs import revealed_input
    from streamer.reenactors.geometric import GeometricConfig
    from tests.models.rfg_files import turned, write_rfg_file

    monkeypatch.setenv("REENACT_CACHE_DIR", str(tmp_path / "cache"))
    weights = write_rfg_file(tmp_path / "revealed.safetensors", revealed=True)
    geometric = GeometricReenactor(GeometricConfig(warp="mesh"))
    reenactor = RFGReenactor(weights, "global", "onnxruntime", geometric=geometric)
    source = prepare_source(canvas, image_detector, reenactor)
    assert source.state.geometric.mesh is not None
    renderer = create_device_renderer(reenactor, "cpu")
    uploaded = renderer.generator.global_part.inputs["revealed"]
    compositor = Compositor(reenactor.crop_size)
    renderer.prepare(source)
    for degrees in (6.0, 18.0):
        driver = source.landmarks.with_points(turned(source.landmarks.points, degrees))
        want = compositor.paste(canvas, reenactor.step(source.state, driver, source.landmarks), source.affine)
        got = renderer.render(source, driver, source.landmarks)
        assert np.array_equal(got, want)
        target = reenactor.retargeter.retarget(source.state.geometric.landmarks, source.landmarks, driver)
        warp = geometric.render_mesh(source.state.geometric, target)[1]
        mask = renderer.generator.device.download(uploaded)
        assert np.array_equal(mask, revealed_input(warp.revealed, warp.covered)[None])
    assert mask.any()


@pytest.mark.parametrize("revealed", [False, True])
def test_rfg_engines_on_a_gpu_use_the_weights_inputs(monkeypatch, tmp_path, revealed):
    """On CUDA the engines come from the registry entry that fits the reenactor's weights."""
    from types import SimpleNamespace

    import streamer.framepath.build as build
    from tests.models.rfg_files import write_rfg_file

    monkeypatch.setattr(build, "engine_for_module", lambda net, module, precision: net)
    monkeypatch.setattr(build, "TensorRTEngine", lambda net, device, precision: net)
    weights = write_rfg_file(tmp_path / "w.safetensors", revealed=revealed)
    reenactor = RFGReenactor(weights, "global", "torch")
    engines = build._rfg_engines(reenactor, SimpleNamespace(name="cuda"), 1, "fp32")
    names = [s.name for s in engines["rfg_global"].inputs]
    assert (names[-1] == "revealed") == revealed and len(names) == 7 + revealed
