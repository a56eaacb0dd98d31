"""``build_serialized_engine`` on a CPU stand-in for tensorrt (tests/export/trt_build_fakes.py): the
builder flags and the timing-cache handling of issue #19 items 2 and 4. A real build needs a GPU
(test_engine_cache.py's gpu-marked test)."""

from __future__ import annotations

import dataclasses

import pytest

from export.registry import get_network
from export.tensorrt_build import BuildConfig, DeviceFacts, build_serialized_engine, timing_cache_file
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
    ((flags, _),) = trt.builds
    assert ("TF32" in flags) is tf32
    assert ("FP16" in flags) is (cfg["precision"] == "fp16" and not cfg.get("strongly_typed", True))


H100 = DeviceFacts("NVIDIA H100 80GB HBM3", "9.0", "10.3.0")
L4 = DeviceFacts("NVIDIA L4", "8.9", "10.3.0")


@pytest.fixture(autouse=True)
def engine_cache(tmp_path, monkeypatch):
    """The default timing-cache folder is the engine cache: a temporary one here."""
    monkeypatch.setenv("REENACT_ENGINE_CACHE", str(tmp_path))


def _build_on(onnx_file, trt, facts, lines=None) -> bytes:
    net, log = get_network("pixel_warp"), (lines.append if lines is not None else (lambda _: None))
    return build_serialized_engine(onnx_file, net, BuildConfig("fp32"), log=log, facts=facts, trt=trt)


def test_one_timing_cache_per_gpu_tensorrt_and_tf32(tmp_path):
    """Item 4: one timing.cache served every GPU and TensorRT version (and TensorRT refuses a cache from
    another device); each combination now has its own file."""
    names = {
        timing_cache_file(tmp_path, H100, False),
        timing_cache_file(tmp_path, H100, True),
        timing_cache_file(tmp_path, L4, False),
        timing_cache_file(tmp_path, dataclasses.replace(H100, tensorrt="10.4.0"), False),
        timing_cache_file(tmp_path, dataclasses.replace(H100, compute_capability="9.1"), False),
    }
    assert len(names) == 5
    assert all(p.parent == tmp_path / "timing" and "/" not in p.name for p in names)


def test_builds_reuse_their_own_machines_cache(tmp_path, onnx_file):
    trt = FakeBuilderTrt()
    _build_on(onnx_file, trt, H100)  # empty cache, then saved
    h100 = timing_cache_file(tmp_path, H100, False)
    assert h100.read_bytes() == b"|timed"
    _build_on(onnx_file, trt, L4)  # another GPU: its own (empty) cache, H100's untouched
    _build_on(onnx_file, trt, H100)
    assert [data for _, data in trt.builds] == [b"", b"", b"|timed"]
    assert h100.read_bytes() == b"|timed|timed"
    assert timing_cache_file(tmp_path, L4, False).read_bytes() == b"|timed"


@pytest.mark.parametrize("problem", ["mismatched", "unreadable"])
def test_a_refused_cache_falls_back_to_an_empty_one(tmp_path, onnx_file, problem):
    """``set_timing_cache(..., ignore_mismatch=False)`` returns False for a cache from another device or
    TensorRT version, ``create_timing_cache`` may return None: both were ignored before."""
    trt = FakeBuilderTrt()
    path = timing_cache_file(tmp_path, H100, False)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"stale")
    getattr(trt, problem).add(b"stale")
    lines: list[str] = []
    assert _build_on(onnx_file, trt, H100, lines) == b"plan"
    assert [data for _, data in trt.builds] == [b""], "built with the refused cache"
    assert any("starting an empty one" in line for line in lines)
    assert path.read_bytes() == b"|timed"  # replaced by this machine's cache


def test_no_timing_cache_back_is_not_fatal(tmp_path, onnx_file):
    """``get_timing_cache()`` can return None: the plan is still returned, nothing is written."""
    trt = FakeBuilderTrt()
    trt.lose_cache = True
    assert _build_on(onnx_file, trt, H100) == b"plan"
    assert not timing_cache_file(tmp_path, H100, False).exists()


class _Module:
    def eval(self):
        return self

    def cuda(self):
        return self


@pytest.mark.parametrize("version", ["2.13.0+cu128", "2.10.0", "2.9.0"])
@pytest.mark.parametrize(
    ("network", "precision"), [("pixel_warp", "fp16"), ("rfg_local", "fp16"), ("rfg_local", "fp32")]
)
def test_torch_tensorrt_types_from_the_module_and_drops_tf32_for_fp32(monkeypatch, version, network, precision):
    """Item 7: torch-tensorrt >= 2.10 types explicitly and rejects ``enabled_precisions`` (an
    AssertionError, "should not be used when use_explicit_typing=True"); older releases need it.
    Item 2: ``disable_tf32`` for fp32."""
    import sys
    from types import SimpleNamespace

    import torch

    from export.tensorrt_build import compile_torch_tensorrt

    calls = []
    fake = SimpleNamespace(
        __version__=version,
        Input=lambda shape, dtype: (tuple(shape), dtype),
        compile=lambda module, **kwargs: calls.append(kwargs) or module,
    )
    monkeypatch.setitem(sys.modules, "torch_tensorrt", fake)
    net = get_network(network)
    compile_torch_tensorrt(_Module(), net, precision)
    (kwargs,) = calls
    explicit = version != "2.9.0"
    dtype = torch.half if precision == "fp16" else torch.float32
    assert ("enabled_precisions" not in kwargs) is explicit
    if not explicit:
        assert kwargs["enabled_precisions"] == {dtype}
    assert kwargs["disable_tf32"] is (precision == "fp32")
    input_dtype = torch.float32 if net.fp32_inputs else dtype
    assert [i[1] for i in kwargs["inputs"]] == [input_dtype] * len(net.inputs)
