"""Export of RFG weights with the mesh warp's revealed mask (``RFGConfig.revealed_input``): the registry
entry fits the weights file (``rfg_global`` gains the ``revealed`` input), the exported graph has it,
the TensorRT profile and the backend runners see it; a planar file's graph does not."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from export.pipeline import ExportConfig, export_all
from export.registry import CROP, get_network, rfg_file_revealed, rfg_network
from export.tensorrt_build import BuildConfig, _profile_shapes
from tests.models.rfg_files import write_rfg_file

PLANAR_INPUTS = ["feats", "adain", "base", "pixel_map", "lm_src", "lm_tgt", "mouth"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Weights folders: none, a planar rfg.safetensors, a revealed-input one."""
    root = tmp_path_factory.mktemp("weights")
    (root / "none").mkdir()
    for name, revealed in (("planar", False), ("revealed", True)):
        (root / name).mkdir()
        write_rfg_file(root / name / "rfg.safetensors", revealed=revealed, seed=3)
    return SimpleNamespace(none=root / "none", planar=root / "planar", revealed=root / "revealed")


def _names(net) -> list[str]:
    return [s.name for s in net.inputs]


def test_the_entry_fits_the_weights_file(folders):
    assert not rfg_file_revealed(folders.none) and not rfg_file_revealed(folders.planar)
    assert rfg_file_revealed(folders.revealed)
    for folder in (None, folders.none, folders.planar):
        assert get_network("rfg_global", folder) is get_network("rfg_global")
        assert _names(get_network("rfg_global", folder)) == PLANAR_INPUTS
    net = get_network("rfg_global", folders.revealed)
    assert net is rfg_network("rfg_global", True) and net.variant == "revealed"
    assert _names(net) == [*PLANAR_INPUTS, "revealed"] and net.inputs[-1].shape == (1, CROP, CROP)
    for other in ("rfg_source", "rfg_local", "rfg_calibration", "pixel_warp"):
        assert get_network(other, folders.revealed) is get_network(other)
    assert net.for_weights(folders.planar) is get_network("rfg_global")  # fitting again reads the file


def test_revealed_example_inputs(folders):
    net = rfg_network("rfg_global", True)
    for feeds in (net.random_inputs(np.random.default_rng(0), 2), net.real_inputs(2)):
        assert set(feeds) == set(_names(net))
        assert feeds["revealed"].shape == (2, 1, CROP, CROP)
        assert set(np.unique(feeds["revealed"])) <= {0.0, 1.0} and feeds["revealed"].any()
    module = net.build(None)  # random init of a revealed-input config
    assert module.gen.cfg.revealed_input


def test_tensorrt_profile_has_the_revealed_input():
    shapes = _profile_shapes(rfg_network("rfg_global", True), BuildConfig(max_batch=4, opt_batch=2))
    assert shapes["revealed"] == ((1, 1, CROP, CROP), (2, 1, CROP, CROP), (4, 1, CROP, CROP))
    assert "revealed" not in _profile_shapes(get_network("rfg_global"), BuildConfig())


@pytest.mark.parametrize("kind", ["planar", "revealed"])
def test_exported_graph_has_the_revealed_input_only_for_revealed_weights(folders, tmp_path, kind):
    import onnx

    cfg = ExportConfig(tmp_path, weights=getattr(folders, kind), networks=("rfg_global",), sampler="gather")
    manifest = export_all(cfg, say=lambda _: None)
    (entry,) = manifest.models
    assert all(c["ok"] for c in entry.checks) and {c["case"] for c in entry.checks} == {"random", "real"}
    names = [i.name for i in onnx.load(str(tmp_path / entry.file)).graph.input]
    want = [*PLANAR_INPUTS, "revealed"] if kind == "revealed" else PLANAR_INPUTS
    assert names == want and list(entry.inputs) == want
    if kind == "revealed":
        assert entry.inputs["revealed"] == [1, 1, CROP, CROP]


def test_runner_of_a_revealed_folder_exports_its_own_graph(folders, tmp_path, monkeypatch):
    """``create_runner`` exports into the shared engine cache: a revealed file's graph in its own folder."""
    from streamer.backends.select import BackendChoice, create_runner

    monkeypatch.setenv("REENACT_ENGINE_CACHE", str(tmp_path))
    choice = BackendChoice("rfg_global", "onnxruntime", "test")
    revealed = create_runner(choice, weights=folders.revealed)
    assert [s.name for s in revealed.input_spec] == [*PLANAR_INPUTS, "revealed"]
    assert (tmp_path / "onnx" / "revealed" / "rfg_global.fp32.onnx").is_file()
    planar = create_runner(choice, weights=folders.planar)
    assert [s.name for s in planar.input_spec] == PLANAR_INPUTS
