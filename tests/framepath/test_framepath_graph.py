"""Captured frames (streamer.framepath.graph) on the host device: the replayed graph writes the frames
the eager renderer writes, re-captures when the work changes, and refuses what it cannot replay.

On a GPU the same classes capture a CUDA graph (tests/framepath/test_framepath_gpu.py, marked gpu)."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.framepath.build import create_device_renderer
from streamer.framepath.device import HostDevice
from streamer.framepath.graph import GraphDevice, GraphMismatch, GraphRenderer
from streamer.pipeline import prepare_source
from streamer.reenactors.geometric import GeometricReenactor
from streamer.reenactors.rfg import DEFAULT_WEIGHTS, RFGReenactor
from tests.framepath.test_framepath import _driven


@pytest.fixture(scope="module")
def canvas(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[:400, :360])


def _frames(renderer, source, n: int) -> list[np.ndarray]:
    out = []
    for i in range(n):
        driver = _driven(source.landmarks, mouth=2.0 * i, turn=1.5 * i)
        out.append(renderer.render(source, driver, source.landmarks))
    return out


@pytest.mark.parametrize("generator", ["geometric", "rfg"])
def test_replayed_frames_equal_eager_frames(canvas, image_detector, generator):
    """Warm-up frame eager, then one capture, then replays: every frame equals the eager renderer's."""
    if generator == "rfg" and not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped RFG weights")
    rfg = generator == "rfg"
    reenactor = RFGReenactor(integrator="global", backend="onnxruntime") if rfg else GeometricReenactor()
    source = prepare_source(canvas, image_detector, reenactor)
    eager = create_device_renderer(reenactor, "cpu", graph=False)
    graphed = create_device_renderer(reenactor, "cpu", graph=True)
    assert isinstance(graphed, GraphRenderer) and not isinstance(eager, GraphRenderer)
    eager.prepare(source)
    graphed.prepare(source)
    want, got = _frames(eager, source, 5), _frames(graphed, source, 5)
    assert graphed.captures == 1 and graphed.replays == 3
    for i, (a, b) in enumerate(zip(want, got, strict=True)):
        assert np.array_equal(a, b), f"frame {i}"
    assert len({g.tobytes() for g in got}) == 5  # the replays really carry each frame's new inputs


def test_new_source_and_changed_work_capture_again(canvas, astronaut, image_detector):
    reenactor = GeometricReenactor()
    first = prepare_source(canvas, image_detector, reenactor)
    second = prepare_source(np.ascontiguousarray(astronaut[:380, 20:400]), image_detector, reenactor)
    graphed = create_device_renderer(reenactor, "cpu", graph=True)
    eager = create_device_renderer(reenactor, "cpu", graph=False)
    for source in (first, second):  # a new source: new canvas buffers, so the graph is dropped
        graphed.prepare(source)
        eager.prepare(source)
        for a, b in zip(_frames(eager, source, 3), _frames(graphed, source, 3), strict=True):
            assert np.array_equal(a, b)
    assert graphed.captures == 2 and graphed.replays == 2
    # Work that differs from the captured frame (here: seam colour matching switched off) is noticed
    # before anything replays; that frame is drawn eagerly and the next ones are captured anew.
    graphed.compositor.config = eager.compositor.config = type(eager.compositor.config)(
        type(eager.compositor.config.compositor)(color_match=False)
    )
    for a, b in zip(_frames(eager, second, 4), _frames(graphed, second, 4), strict=True):
        assert np.array_equal(a, b)
    assert graphed.captures == 3 and graphed.replays == 4


def test_graph_device_refuses_what_it_cannot_replay():
    dev = GraphDevice(HostDevice())
    buf = dev.empty((4,), np.float32)
    with pytest.raises(GraphMismatch, match="uploaded twice"), dev.capturing():
        dev.upload(buf, np.ones(4, np.float32))
        dev.upload(buf, np.zeros(4, np.float32))
    assert not dev.captured
    with pytest.raises(GraphMismatch, match="allocation"), dev.capturing():
        dev.empty((2,), np.float32)
    with dev.capturing():
        dev.upload(buf, np.full(4, 3.0, np.float32))
        out = dev.download(buf)
    assert dev.captured and not out.any()  # captured, not run
    dev.replay()
    assert (out == 3.0).all()
    with dev.replaying():
        dev.upload(buf, np.full(4, 5.0, np.float32))
        dev.download(buf)
    dev.replay()
    assert (out == 5.0).all()
    with pytest.raises(GraphMismatch, match="1 of the captured frame's 2 calls"), dev.replaying():
        dev.upload(buf, np.full(4, 6.0, np.float32))
    with pytest.raises(GraphMismatch, match="differs"), dev.replaying():
        dev.zero(buf)
    with pytest.raises(ValueError, match="warmup"):
        GraphRenderer(type("R", (), {"device": dev, "compositor": None})(), warmup=0)


@pytest.mark.parametrize("graph", [False, True])
def test_prepare_runs_once_per_source(canvas, astronaut, image_detector, graph):
    """A live stream rebuilds its pipeline (paste-back toggle) with the same source: no second upload
    or per-source run, and a held graph stays; a new source prepares anew."""
    reenactor = GeometricReenactor()
    source = prepare_source(canvas, image_detector, reenactor)
    renderer = create_device_renderer(reenactor, "cpu", graph=graph)
    uploads = []
    set_canvas = renderer.compositor.set_canvas
    renderer.compositor.set_canvas = lambda *a: (uploads.append(1), set_canvas(*a))
    renderer.prepare(source)
    _frames(renderer, source, 3)
    renderer.prepare(source)
    assert len(uploads) == 1
    if graph:
        assert renderer.device.captured
    renderer.prepare(prepare_source(np.ascontiguousarray(astronaut[:380, 20:400]), image_detector, reenactor))
    assert len(uploads) == 2
