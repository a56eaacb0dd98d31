"""--generator / --integrator / --weights on convert (and their one-line errors on every path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from streamer.models.rfg import build_networks, save_networks
from streamer.reenactors.generators import create_generator
from streamer.reenactors.geometric import GeometricReenactor


@pytest.fixture(scope="module")
def fresh_weights(tmp_path_factory) -> Path:
    """An untrained RFG weights file (a fresh RFG returns the geometric output)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "rfg.safetensors"
    save_networks(build_networks(), path)
    return path


def _reenact(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamer.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("integrator", ["global", "global-local"])
def test_convert_with_the_rfg_generator(tmp_path, fresh_weights, integrator):
    out = tmp_path / "out.mp4"
    r = _reenact(
        "convert",
        "--example",
        "--out",
        str(out),
        "--generator",
        "rfg",
        "--integrator",
        integrator,
        "--weights",
        str(fresh_weights),
        "--max-seconds",
        "1",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    assert out.is_file() and f"generator rfg ({integrator})" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--generator", "geometric", "--weights", "x.safetensors"], "--weights is for --generator rfg"),
        (["--generator", "rfg", "--weights", "missing.safetensors"], "RFG weights not found"),
        (["--weights", "missing.safetensors"], "RFG weights not found"),  # rfg is the default
        (["--generator", "nope"], "invalid choice"),
    ],
)
@pytest.mark.parametrize("command", ["convert", "serve", "camera"])
def test_bad_generator_options_are_one_line_errors(tmp_path, command, args, message):
    extra = ["--example", "--out", str(tmp_path / "o.mp4")] if command == "convert" else []
    r = _reenact(command, *extra, *args)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len([line for line in lines if line.startswith("reenact")]) == 1


def test_corrupt_weights_are_one_line(tmp_path):
    bad = tmp_path / "rfg.safetensors"
    bad.write_bytes(b"\x00" * 64)
    r = _reenact("convert", "--example", "--out", str(tmp_path / "o.mp4"), "--generator", "rfg", "--weights", str(bad))
    assert r.returncode == 2 and "cannot load RFG weights" in r.stderr and "Traceback" not in r.stderr


def test_geometric_generator_is_the_warp_itself():
    geo = GeometricReenactor()
    assert create_generator("geometric", geo) is geo
