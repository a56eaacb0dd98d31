"""benchmarks.gpu: one command on a GPU machine; here a clear "needs an NVIDIA GPU" and exit 2."""

from __future__ import annotations

import pytest

from benchmarks import gpu


def test_without_gpu_it_says_what_is_missing(capsys):
    lacking = gpu.missing()
    if not lacking:
        pytest.skip("this machine has a GPU with TensorRT and pycuda")
    assert gpu.main(["--iters", "1"]) == gpu.EXIT_NO_GPU
    err = capsys.readouterr().err
    assert "needs an NVIDIA GPU" in err and "tensorrt" in err


def test_markdown_table():
    table = gpu.markdown([("end to end", "fp16", "on", 2.0)])
    assert "| end to end | fp16 | on | 2.000 | 500 |" in table
