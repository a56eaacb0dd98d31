"""Engine cache keys and the refusal to load a mismatched engine (no TensorRT needed), plus a GPU build."""

from __future__ import annotations

import dataclasses
import json

import pytest

from export.registry import get_network
from export.tensorrt_build import (
    BuildConfig,
    DeviceFacts,
    EngineKey,
    EngineMismatch,
    cached_engine,
    ensure_engine,
    load_engine_bytes,
    store_engine,
    tensorrt_status,
)

H100 = DeviceFacts("NVIDIA H100 80GB HBM3", "9.0", "10.3.0")
L4 = DeviceFacts("NVIDIA L4", "8.9", "10.3.0")


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "pixel_warp.fp32.onnx"
    path.write_bytes(b"not really onnx, only hashed")
    return path


class FakeBuild:
    def __init__(self):
        self.calls = 0

    def __call__(self, path, net, cfg):
        self.calls += 1
        return f"engine {self.calls} of {path.name} {cfg.precision}".encode()


def test_key_changes_with_every_fact():
    base = EngineKey.make("pixel_warp", "ab" * 32, H100)
    variants = [
        EngineKey.make("pixel_warp", "cd" * 32, H100),
        EngineKey.make("pixel_warp", "ab" * 32, H100, BuildConfig("fp16")),
        EngineKey.make("pixel_warp", "ab" * 32, H100, BuildConfig(max_batch=8)),
        EngineKey.make("pixel_warp", "ab" * 32, L4),
        EngineKey.make("pixel_warp", "ab" * 32, dataclasses.replace(H100, tensorrt="10.4.0")),
        # how it was built (issue #19 item 10): typing, workspace and the profile's opt batch change tactics
        EngineKey.make("pixel_warp", "ab" * 32, H100, BuildConfig("fp16", strongly_typed=False)),
        EngineKey.make("pixel_warp", "ab" * 32, H100, BuildConfig(workspace_mib=512)),
        EngineKey.make("pixel_warp", "ab" * 32, H100, BuildConfig(max_batch=8, opt_batch=4)),
    ]
    assert base.tf32 is False and variants[1].tf32 is True  # fp32 engines are built without TF32 (item 2)
    assert len({base.digest(), *(v.digest() for v in variants)}) == len(variants) + 1
    assert base.digest() == EngineKey.make("pixel_warp", "ab" * 32, H100).digest()


def test_builds_once_then_hits_the_cache(tmp_path, onnx_file):
    net, build = get_network("pixel_warp"), FakeBuild()
    first = ensure_engine(onnx_file, net, BuildConfig(), H100, tmp_path / "e", build, log=lambda _: None)
    again = ensure_engine(onnx_file, net, BuildConfig(), H100, tmp_path / "e", build, log=lambda _: None)
    assert first == again and build.calls == 1
    other_gpu = ensure_engine(onnx_file, net, BuildConfig(), L4, tmp_path / "e", build, log=lambda _: None)
    assert other_gpu != first and build.calls == 2
    onnx_file.write_bytes(b"a re-exported model")
    ensure_engine(onnx_file, net, BuildConfig(), H100, tmp_path / "e", build, log=lambda _: None)
    assert build.calls == 3


def test_mismatched_engine_is_refused_with_the_reason(tmp_path):
    built_on_l4 = EngineKey.make("pixel_warp", "ab" * 32, L4, BuildConfig("fp16"))
    path = store_engine(tmp_path, built_on_l4, b"plan")
    wanted = EngineKey.make("pixel_warp", "ab" * 32, H100, BuildConfig("fp16"))
    with pytest.raises(EngineMismatch, match="compute_capability: '8.9' != '9.0'"):
        load_engine_bytes(path, wanted)
    # copied under the file name this machine would look for: the sidecar still says L4
    (tmp_path / wanted.file_name()).write_bytes(b"plan")
    (tmp_path / wanted.file_name()).with_suffix(".json").write_text(json.dumps(dataclasses.asdict(built_on_l4)))
    assert cached_engine(tmp_path, wanted) is None
    assert load_engine_bytes(path, built_on_l4) == b"plan"


def test_engine_without_key_file_is_refused(tmp_path):
    key = EngineKey.make("pixel_warp", "ab" * 32, H100)
    path = tmp_path / key.file_name()
    path.write_bytes(b"plan")
    with pytest.raises(EngineMismatch, match="no key file"):
        load_engine_bytes(path, key)


@pytest.mark.gpu
def test_real_engine_build_and_run(tmp_path):
    ok, reason = tensorrt_status()
    if not ok:
        pytest.skip(reason)
    import numpy as np

    from export.pipeline import ExportConfig, export_all
    from streamer.backends.runner import TorchRunner, cross_validate
    from streamer.backends.tensorrt import TensorRTRunner

    net = get_network("pixel_warp")
    for precision in ("fp32", "fp16"):
        export_all(ExportConfig(tmp_path, precision=precision, networks=("pixel_warp",)), say=lambda _: None)
        engine = ensure_engine(
            tmp_path / f"pixel_warp.{precision}.onnx",
            net,
            BuildConfig(precision=precision),
            folder=tmp_path / "engines",
        )
        runner = TensorRTRunner(engine, precision)
        feeds = net.real_inputs(1)
        ref = TorchRunner(net.build(None), net.inputs, net.outputs).infer(feeds)
        assert all(a.ok for a in cross_validate(runner, ref, feeds))
        runner.capture()
        assert np.allclose(runner.infer(feeds)["warped"], ref["warped"], atol=1.0)


def test_an_engine_recorded_without_its_build_settings_is_rebuilt(tmp_path, onnx_file):
    """Sidecars written before the key recorded typing, workspace and opt batch: stale, never loaded."""
    net, build = get_network("pixel_warp"), FakeBuild()
    path = ensure_engine(onnx_file, net, BuildConfig(), H100, tmp_path, build, log=lambda _: None)
    old = json.loads(path.with_suffix(".json").read_text())
    for field in ("strongly_typed", "workspace_mib", "opt_batch"):
        del old[field]
    path.with_suffix(".json").write_text(json.dumps(old))
    with pytest.raises(EngineMismatch, match="does not record how"):
        load_engine_bytes(path, EngineKey.make("pixel_warp", old["onnx_sha256"], H100))
    ensure_engine(onnx_file, net, BuildConfig(), H100, tmp_path, build, log=lambda _: None)
    assert build.calls == 2
