"""``benchmarks.flow_damping`` end to end on the tiny prepared dataset (skips when ``../shared/data`` is absent)."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks.flow_damping import main, variant_name
from streamer.models.rfg import build_networks, save_networks


@pytest.mark.shared_data
def test_sweep_scores_each_alpha(tiny_dataset, tmp_path):
    """With a random flow head, x1 moves the base around and x0 draws (almost) the geometric base."""
    torch.manual_seed(0)
    nets = build_networks()
    with torch.no_grad():
        nets.gen.motion.head.bias[:2] = torch.tensor([0.4, -0.3])  # 0.04/-0.03 of the crop: a visible shift
    weights = tmp_path / "rfg.safetensors"
    save_networks(nets, weights)
    md, js = tmp_path / "sweep.md", tmp_path / "sweep.json"
    args = ["--data", str(tiny_dataset), "--weights", str(weights), "--alphas", "0,1", "--max-frames", "5"]
    assert main([*args, "--quiet", "--markdown", str(md), "--json", str(js)]) == 0
    report = json.loads(js.read_text())
    assert report["command"].startswith("python -m benchmarks.flow_damping --data")
    for split in ("heldout-tail", "heldout-identities"):
        rows = report["summary"][split]["methods"]
        assert list(rows) == ["geometric", variant_name(0.0), variant_name(1.0)]
        geo, x0, x1 = (rows[k]["psnr_valid"] for k in rows)
        assert abs(x0 - geo) < 0.5 and x1 < x0 - 1.0, (geo, x0, x1)
    text = md.read_text()
    assert "rfg x0" in text and "rfg x1" in text and "Machine:" in text


def test_bad_arguments_are_exit_2(tmp_path, capsys):
    weights = tmp_path / "none.safetensors"
    assert main(["--data", str(tmp_path), "--weights", str(weights), "--alphas", "0,2", "--quiet"]) == 2
    assert "--alphas" in capsys.readouterr().err
    assert main(["--data", str(tmp_path), "--weights", str(weights), "--splits", "cross", "--quiet"]) == 2
    assert "--splits" in capsys.readouterr().err
