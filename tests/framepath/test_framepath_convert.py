"""``reenact convert --frame-path kernels``: the kernel paste-back path end to end, against OpenCV's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from streamer.reenactors.rfg import DEFAULT_WEIGHTS

REENACT = [sys.executable, "-m", "streamer.cli"]


def _convert(driver: Path, out: Path, *extra: str) -> str:
    cmd = [*REENACT, "convert", "--example", "--driver", str(driver), "--out", str(out), "--max-seconds", "1"]
    proc = subprocess.run([*cmd, "--quiet", *extra], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped RFG weights")
def test_kernel_frame_path_writes_the_same_video(example_driver, tmp_path):
    """RFG global on the kernel path (CPU twins + onnxruntime here) encodes the very frames OpenCV's does."""
    said = _convert(example_driver, tmp_path / "kernels.mp4", "--generator", "rfg", "--frame-path", "kernels")
    assert "paste-back kernels (cpu)" in said
    assert "paste-back opencv" in _convert(example_driver, tmp_path / "opencv.mp4", "--generator", "rfg")
    kernels, opencv = _frames(tmp_path / "kernels.mp4"), _frames(tmp_path / "opencv.mp4")
    assert len(kernels) == len(opencv) > 20
    assert all(np.array_equal(a, b) for a, b in zip(kernels, opencv, strict=True))


def test_kernel_frame_path_needs_paste_back(example_driver, tmp_path):
    cmd = [*REENACT, "convert", "--example", "--out", str(tmp_path / "x.mp4"), "--crop-only", "--frame-path", "kernels"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["reenact: error: --frame-path kernels is the paste-back path; "
                                                "--crop-only has no paste-back"]  # fmt: skip
