"""The on-disk cache of the RFG's ONNX graphs (``streamer.reenactors.onnx_cache``) and the fast start it
gives: a warm start of ``reenact convert`` with the default generator does not import torch."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamer.errors import InputError
from streamer.reenactors import onnx_cache
from streamer.reenactors.onnx_cache import cache_root, cached_graphs, entry_key, rfg_header

REPO = Path(__file__).resolve().parents[1]
NAMES = ("a", "b")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("REENACT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def weights(tmp_path) -> Path:
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"any bytes: the key hashes the file")
    return path


class _Exporter:
    def __init__(self):
        self.calls = 0

    def __call__(self) -> dict[str, bytes]:
        self.calls += 1
        return {name: f"graph {name}".encode() for name in NAMES}


def _get(weights, export):
    return cached_graphs(weights, NAMES, export, 18, "gather")


def test_format_constant_matches_the_models_module():
    from streamer.models.rfg import RFG_FORMAT

    assert onnx_cache.RFG_FORMAT == RFG_FORMAT


def test_cache_dir_follows_the_environment(cache, monkeypatch):
    assert cache_root() == cache
    monkeypatch.delenv("REENACT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert cache_root() == Path("/somewhere/reenact")


def test_export_once_then_read(cache, weights):
    export = _Exporter()
    first, hit1 = _get(weights, export)
    second, hit2 = _get(weights, export)
    assert (hit1, hit2, export.calls) == (False, True, 1)
    assert first == second == export()


def test_key_changes_with_weights_opset_and_sampler(weights):
    key = entry_key(weights, 18, "gather")
    assert key != entry_key(weights, 17, "gather") != entry_key(weights, 18, "grid_sample")
    assert "torch" in key and "ort" in key and "code" in key
    weights.write_bytes(b"other weights")
    assert entry_key(weights, 18, "gather") != key


@pytest.mark.parametrize("damage", ["flip_graph", "truncate_graph", "bad_manifest", "no_graph"])
def test_a_damaged_entry_is_rebuilt(cache, weights, damage):
    export = _Exporter()
    good, _ = _get(weights, export)
    folder = cache / "onnx" / entry_key(weights, 18, "gather")
    graph = folder / "a.onnx"
    if damage == "flip_graph":
        data = bytearray(graph.read_bytes())
        data[0] ^= 0xFF
        graph.write_bytes(bytes(data))
    elif damage == "truncate_graph":
        graph.write_bytes(graph.read_bytes()[:3])
    elif damage == "bad_manifest":
        (folder / "manifest.json").write_text("{not json")
    else:
        graph.unlink()
    again, hit = _get(weights, export)
    assert (again, hit, export.calls) == (good, False, 2)
    assert _get(weights, export) == (good, True)  # and stored whole again


def test_an_unwritable_cache_only_costs_speed(tmp_path, weights, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("REENACT_CACHE_DIR", str(blocker))
    export = _Exporter()
    assert _get(weights, export) == (export(), False)


def test_entry_is_written_atomically_manifest_last(cache, weights):
    _get(weights, _Exporter())
    folder = cache / "onnx" / entry_key(weights, 18, "gather")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest == {n: hashlib.sha256(f"graph {n}".encode()).hexdigest() for n in NAMES}
    assert sorted(p.name for p in folder.iterdir()) == ["a.onnx", "b.onnx", "manifest.json"]  # no temp files


def test_header_check_needs_no_torch_and_is_one_line(tmp_path):
    from streamer.reenactors.rfg import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped RFG weights")
    code = (
        "import sys; from streamer.reenactors.rfg import DEFAULT_WEIGHTS, check_rfg_weights;"
        "check_rfg_weights(DEFAULT_WEIGHTS); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(InputError, match="cannot load RFG weights"):
        rfg_header(bad)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache folder holding the shipped RFG's graphs (exported here, in this process)."""
    from streamer.reenactors import rfg

    if not rfg.DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped RFG weights")
    folder = tmp_path_factory.mktemp("onnx-cache")
    saved = os.environ.get("REENACT_CACHE_DIR")
    os.environ["REENACT_CACHE_DIR"] = str(folder)
    try:
        rfg._OrtParts(None, 1, weights=rfg.DEFAULT_WEIGHTS)
    finally:
        if saved is None:
            del os.environ["REENACT_CACHE_DIR"]
        else:
            os.environ["REENACT_CACHE_DIR"] = saved
    return folder


def test_cached_graphs_rejected_by_onnxruntime_are_rebuilt(warm_cache, tmp_path, monkeypatch):
    """Graphs whose bytes match the manifest but do not load (e.g. written by a broken exporter)."""
    import shutil

    from streamer.reenactors import rfg

    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache)
    monkeypatch.setenv("REENACT_CACHE_DIR", str(cache))
    (folder,) = (cache / "onnx").iterdir()
    (folder / "rfg_global.onnx").write_bytes(b"not onnx")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["rfg_global"] = hashlib.sha256(b"not onnx").hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    parts = rfg._OrtParts(None, 1, weights=rfg.DEFAULT_WEIGHTS)
    assert set(parts.sessions) == set(rfg._INPUTS)
    assert (folder / "rfg_global.onnx").read_bytes() != b"not onnx"


def test_warm_convert_does_not_import_torch(warm_cache, example_driver, tmp_path):
    """The default conversion (RFG on onnxruntime) with the graphs in the cache: torch stays unloaded, and so
    does aiortc (``reenact``'s parser used to import it for ``serve``'s defaults)."""
    from streamer.examples import example_source_path

    out = tmp_path / "o.mp4"
    code = (
        "import sys; from streamer.cli import main;"
        f"rc = main(['convert', '--source', {str(example_source_path())!r}, '--driver', {str(example_driver)!r},"
        f" '--out', {str(out)!r}, '--max-seconds', '0.1', '--quiet']);"
        "print('RESULT', rc, 'torch' in sys.modules, 'aiortc' in sys.modules)"
    )
    env = dict(os.environ, REENACT_CACHE_DIR=str(warm_cache))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert result == ["RESULT 0 False False"], proc.stdout + proc.stderr[-2000:]  # nor serve's WebRTC stack
    assert "generator rfg" in proc.stdout and out.is_file()


def test_config_sizes_match_the_built_networks():
    """The export registry describes the RFG's tensors from the config alone (no torch on start-up)."""
    from export.registry import _rfg_sizes
    from streamer.models.rfg import build_networks

    nets = build_networks()
    assert nets.config.decoder_adain_size == nets.gen.decoder.adain_size
    assert _rfg_sizes() == (nets.config.feat_channels, nets.config.grid, nets.gen.decoder.adain_size, 64)


def test_key_changes_with_the_graph_inputs(weights):
    """Weights with the revealed mask have graphs with one more input: never the planar file's entry."""
    from streamer.reenactors.rfg import cache_layout

    assert entry_key(weights, 18, "gather", cache_layout(False)) != entry_key(weights, 18, "gather", cache_layout(True))


def test_planar_and_revealed_files_keep_their_own_graphs(cache, tmp_path, caplog):
    """Each file's entry holds graphs with its inputs; a planar graph found in a revealed file's entry
    (a hand-copied cache) does not load there: exported again."""
    from streamer.reenactors import rfg
    from tests.models.rfg_files import write_rfg_file

    planar = write_rfg_file(tmp_path / "planar.safetensors", revealed=False)
    revealed = write_rfg_file(tmp_path / "revealed.safetensors", revealed=True)
    parts = {name: rfg._OrtParts(None, 1, weights=path) for name, path in (("planar", planar), ("revealed", revealed))}
    assert len(list((cache / "onnx").iterdir())) == 2
    for name, want in (("planar", rfg.graph_inputs(False)), ("revealed", rfg.graph_inputs(True))):
        got = {graph: [i.name for i in s.get_inputs()] for graph, s in parts[name].sessions.items()}
        assert got == want
    folder = cache / "onnx" / entry_key(revealed, 18, "gather", rfg.cache_layout(True))
    wrong = parts["planar"].models["rfg_global"]
    (folder / "rfg_global.onnx").write_bytes(wrong)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["rfg_global"] = hashlib.sha256(wrong).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    again = rfg._OrtParts(None, 1, weights=revealed)
    assert [i.name for i in again.sessions["rfg_global"].get_inputs()][-1] == "revealed"
    assert "did not load" in caplog.text and (folder / "rfg_global.onnx").read_bytes() != wrong
