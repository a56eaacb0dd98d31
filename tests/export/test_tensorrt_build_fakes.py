"""``build_serialized_engine`` on a CPU stand-in for tensorrt (tests/export/trt_build_fakes.py): the
builder flags and the timing-cache handling of issue #19 items 2 and 4. A real build needs a GPU
(test_engine_cache.py's gpu-marked test)."""

from __future__ import annotations

import pytest

from export.registry import get_network
from export.tensorrt_build import BuildConfig, build_serialized_engine
from tests.export.trt_build_fakes import FakeBuilderTrt


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "pixel_warp.onnx"
    path.write_bytes(b"only read, never parsed by the stand-in")
    return path


def _build(onnx_file, trt, **cfg) -> bytes:
    net = get_network("pixel_warp")
    return build_serialized_engine(onnx_file, net, BuildConfig(**cfg), log=lambda _: None, trt=trt)


@pytest.mark.parametrize(
    ("cfg", "tf32"),
    [
        ({"precision": "fp32"}, False),
        ({"precision": "fp16"}, True),
        ({"precision": "fp16", "strongly_typed": False}, True),
    ],
)
def test_fp32_engines_are_built_without_tf32(tmp_path, onnx_file, cfg, tf32):
    """Item 2: TensorRT enables BuilderFlag.TF32 by default; an fp32 engine must clear it to meet the
    fp32 tolerance. fp16 engines keep TensorRT's default."""
    trt = FakeBuilderTrt()
    assert _build(onnx_file, trt, timing_cache=tmp_path / "t.cache", **cfg) == b"plan"
    (flags, _), = trt.builds
    assert ("TF32" in flags) is tf32
    assert ("FP16" in flags) is (cfg["precision"] == "fp16" and not cfg.get("strongly_typed", True))
