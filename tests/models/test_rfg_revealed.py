"""RFG weights with the mesh warp's revealed mask (``RFGConfig.revealed_input``, issue 14 item 4) in the
reenactor: the 8th input of the global integrator, fed from the same mesh render as ``base`` (zeros on
the planar warp, with a warning per source), the same on torch and onnxruntime; planar files unchanged."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from streamer.landmarks import FaceLandmarks
from streamer.models.rfg_inputs import revealed_input
from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor
from streamer.reenactors.rfg import _INPUTS, RFGReenactor, graph_inputs
from tests.models.rfg_files import turned, write_rfg_file

LOGGER = "streamer.reenactors.rfg"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rfg_files")
    return SimpleNamespace(
        revealed=write_rfg_file(folder / "revealed.safetensors", revealed=True, seed=1),
        planar=write_rfg_file(folder / "planar.safetensors", revealed=False, seed=2),
    )


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REENACT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def face(astronaut, astronaut_face):
    """The astronaut's 256 px crop, its landmarks, and three driver frames turning the head."""
    from streamer.alignment import crop_image, crop_transform

    affine = crop_transform(astronaut_face, 256)
    crop, lm = crop_image(astronaut, affine, 256), astronaut_face.transformed(affine)
    targets = [FaceLandmarks(turned(lm.points, deg)) for deg in (8.0, 14.0, 20.0)]
    return SimpleNamespace(crop=crop, lm=lm, targets=targets)


@pytest.fixture(scope="module")
def mesh_geo():
    return GeometricReenactor(GeometricConfig(warp="mesh"))


def _render_counts(geo: GeometricReenactor, monkeypatch) -> dict[str, int]:
    counts = {"render_mesh": 0, "render_maps": 0}
    for name in counts:
        original = getattr(geo, name)

        def spy(*args, _original=original, _name=name):
            counts[_name] += 1
            return _original(*args)

        monkeypatch.setattr(geo, name, spy)
    return counts


def test_mesh_source_feeds_the_revealed_mask_of_its_own_render(files, face, mesh_geo, monkeypatch):
    rfg = RFGReenactor(files.revealed, "global", "torch", geometric=mesh_geo)
    assert rfg.revealed
    state = rfg.prepare(face.crop, face.lm)
    assert state.geometric.mesh is not None
    counts = _render_counts(mesh_geo, monkeypatch)
    frame = rfg.global_inputs(state, face.targets[-1])
    assert counts == {"render_mesh": 1, "render_maps": 0}  # one render gives base, maps and mask
    monkeypatch.undo()
    base, warp = mesh_geo.render_mesh(state.geometric, face.targets[-1])
    np.testing.assert_array_equal(frame.base, base)
    np.testing.assert_array_equal(frame.revealed, revealed_input(warp.revealed, warp.covered)[None])
    assert frame.revealed.shape == (1, 1, 256, 256) and frame.revealed.mean() > 0.002  # the turn reveals
    feeds = frame.feeds(state)
    assert len(feeds) == len(graph_inputs(True)["rfg_global"]) == 8
    # The perturbed weights read the mask: another mask, another output.
    with_mask = rfg.runner.run("rfg_global", *feeds)[0]
    without = rfg.runner.run("rfg_global", *feeds[:-1], np.zeros_like(frame.revealed))[0]
    assert np.abs(with_mask - without).max() > 0.01  # in [-1, 1] units; the mask is ~0.5 % of the crop


def test_torch_and_onnxruntime_agree_on_a_mesh_source(files, face, mesh_geo):
    runs = {}
    for backend in ("torch", "onnxruntime"):
        rfg = RFGReenactor(files.revealed, "global-local", backend, geometric=mesh_geo)
        state = rfg.prepare(face.crop, face.lm)
        graph = rfg.runner.run("rfg_global", *rfg.global_inputs(state, face.targets[-1]).feeds(state))[0]
        frames = [rfg.render(state, t) for t in face.targets]
        runs[backend] = (graph, frames, rfg)
    ort = runs["onnxruntime"][2].runner
    assert [i.name for i in ort.sessions["rfg_global"].get_inputs()] == graph_inputs(True)["rfg_global"]
    (g_torch, f_torch, _), (g_ort, f_ort, _) = runs["torch"], runs["onnxruntime"]
    assert np.abs(g_torch - g_ort).max() < 1e-3
    for a, b in zip(f_torch, f_ort, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_planar_source_with_revealed_weights_runs_on_zeros_and_warns_per_source(files, face, caplog):
    rfg = RFGReenactor(files.revealed, "global-local", "onnxruntime")  # the default planar warp
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        state = rfg.prepare(face.crop, face.lm)
        frames = [rfg.step(state, t, face.lm) for t in face.targets]
        warned = [r for r in caplog.records if r.name == LOGGER and "trained on the mesh warp" in r.message]
        assert len(warned) == 1  # once for the source, not per frame
        rfg.prepare(face.crop, face.lm)
        warned = [r for r in caplog.records if r.name == LOGGER and "trained on the mesh warp" in r.message]
        assert len(warned) == 2  # another source, another warning
    frame = rfg.global_inputs(state, face.targets[-1])
    assert frame.revealed is not None and not frame.revealed.any()
    assert all(f.shape == (256, 256, 3) and f.dtype == np.uint8 for f in frames)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_planar_weights_take_no_revealed_input(files, face, mesh_geo, backend, caplog):
    rfg = RFGReenactor(files.planar, "global", backend, geometric=mesh_geo)
    assert not rfg.revealed
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        state = rfg.prepare(face.crop, face.lm)
    assert not [r for r in caplog.records if r.name == LOGGER]
    frame = rfg.global_inputs(state, face.targets[-1])
    assert frame.revealed is None and len(frame.feeds(state)) == len(_INPUTS["rfg_global"]) == 7
    if backend == "onnxruntime":
        assert [i.name for i in rfg.runner.sessions["rfg_global"].get_inputs()] == _INPUTS["rfg_global"]
    assert rfg.step(state, face.targets[0], face.lm).shape == (256, 256, 3)


@pytest.mark.parametrize("which", ["revealed", "planar"])
def test_mesh_cracks_are_guarded_so_the_output_keeps_the_painted_base(files, face, mesh_geo, which):
    """Where the mesh render left pixels uncovered (painted by ``fill_cracks``), the guard map is 1, so
    the blend keeps the base there (the decoder would sample the photo's hair edge through the map)."""
    from streamer.models.rfg_mouth import guard_input

    rfg = RFGReenactor(getattr(files, which), "global", "torch", geometric=mesh_geo)
    state = rfg.prepare(face.crop, face.lm)
    target = FaceLandmarks(turned(face.lm.points, 45.0))
    _, warp = mesh_geo.render_mesh(state.geometric, target)
    assert (~warp.covered).sum() > 0  # a 45 degree turn leaves cracks
    frame = rfg.global_inputs(state, target)
    crack = ~warp.covered
    assert frame.mouth[0, 0][crack].min() > 0.99
    assert np.array_equal(frame.mouth[0, 0] > 0, (frame.mouth[0, 0] > 0) | crack)
    plain = guard_input(target.points, 256)[0]
    far = frame.mouth[0, 0] - plain
    assert far.max() > 0.99 and far.min() >= 0.0  # only ever raised
