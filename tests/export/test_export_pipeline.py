"""``export_all`` and ``reenact export``: files, manifest, hashes, atomic writes, progress."""

from __future__ import annotations

import hashlib
import json

import pytest

from export.manifest import read_manifest
from export.pipeline import ExportConfig, export_all
from streamer.cli import main


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    lines: list[str] = []
    cfg = ExportConfig(out, precision="fp32", random_weights=True, networks=("pixel_warp", "idsg_retarget"))
    return out, export_all(cfg, say=lines.append), lines


def test_manifest_lists_files_with_hashes(exported):
    out, manifest, _ = exported
    assert [m.name for m in manifest.models] == ["idsg_retarget", "pixel_warp"]
    for entry in manifest.models:
        data = (out / entry.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256 and len(data) == entry.bytes
        assert entry.tensorrt_issues == []
        assert all(c["ok"] for c in entry.checks)
    assert read_manifest(out) == manifest
    assert json.loads((out / "manifest.json").read_text())["format"] == "reenact-export-v1"


def test_no_temporary_files_are_left(exported):
    out, _, _ = exported
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_progress_names_each_model_and_its_error(exported):
    _, _, lines = exported
    text = "\n".join(lines)
    assert "[1/2] idsg_retarget (per_frame, fp32)" in text and "[2/2] pixel_warp" in text
    assert "real   warped: max abs" in text and "random target: max abs" in text


def test_missing_weights_are_skipped_with_reason(tmp_path):
    cfg = ExportConfig(tmp_path, weights=tmp_path / "none", networks=("idsg_identity",))
    manifest = export_all(cfg, say=lambda _: None)
    assert manifest.models == [] and "weights not found" in manifest.skipped["idsg_identity"]


def test_cli_exports_fp16(tmp_path, capsys):
    assert main(["export", "--out", str(tmp_path), "--precision", "fp16", "--only", "pixel_warp"]) == 0
    assert (tmp_path / "pixel_warp.fp16.onnx").is_file()
    assert "TensorRT 10 parser: every op supported natively" in capsys.readouterr().out


def test_cli_tensorrt_without_tensorrt_is_a_clear_error(tmp_path, capsys):
    from export.tensorrt_build import tensorrt_status

    if tensorrt_status()[0]:
        pytest.skip("TensorRT is usable here")
    assert main(["export", "--out", str(tmp_path), "--tensorrt"]) == 2
    assert "needs an NVIDIA GPU with TensorRT" in capsys.readouterr().err


def test_cli_sampler_auto_is_gathers_at_fp32_and_grid_sample_at_fp16(tmp_path, capsys):
    """--sampler auto: GatherElements for onnxruntime at fp32, GridSample at fp16; recorded in the manifest."""
    import onnx

    for precision, op in (("fp32", "GatherElements"), ("fp16", "GridSample")):
        out = tmp_path / precision
        assert main(["export", "--out", str(out), "--precision", precision, "--only", "pixel_warp"]) == 0
        ops = {n.op_type for n in onnx.load(str(out / f"pixel_warp.{precision}.onnx")).graph.node}
        assert op in ops
        entry = read_manifest(out).models[0]
        assert entry.sampler == ("gather" if precision == "fp32" else "grid_sample")
    args = ["export", "--out", str(tmp_path / "x"), "--precision", "fp16", "--sampler", "gather"]
    assert main(args) == 2
    assert "--sampler gather needs --precision fp32" in capsys.readouterr().err
