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
