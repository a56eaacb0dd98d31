"""Every available backend runs every registered network and agrees with eager PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from export.onnx_export import OnnxOptions, check_onnx, export_onnx, serialize, to_fp16
from export.registry import NETWORKS
from streamer.backends.probe import probe
from streamer.backends.runner import TOLERANCE, OnnxRuntimeRunner, Runner, TorchRunner, cross_validate
from streamer.backends.select import GPU_ORDER, BackendChoice, availability, create_runner

CPU_CASES = [(n, p) for n in NETWORKS for p in ("fp32", "fp16")]


@pytest.fixture(scope="module")
def onnx_models():
    """(name, precision) -> ONNX bytes, random weights (the contract does not depend on training)."""
    out = {}
    for name, net in NETWORKS.items():
        model = check_onnx(export_onnx(net, net.build(None), OnnxOptions()))
        out[(name, "fp32")] = serialize(model)
        out[(name, "fp16")] = serialize(to_fp16(model, net.fp32_inputs))
    return out


def _reference(name: str, feeds, weights=None):
    net = NETWORKS[name]
    return TorchRunner(net.build(weights if net.weights_file else None), net.inputs, net.outputs).infer(feeds)


@pytest.mark.parametrize(("name", "precision"), CPU_CASES)
def test_onnxruntime_cpu_agrees_with_torch(onnx_models, name, precision):
    net = NETWORKS[name]
    runner = OnnxRuntimeRunner(onnx_models[(name, precision)], precision=precision)
    assert isinstance(runner, Runner)
    assert [s.name for s in runner.input_spec] == [s.name for s in net.inputs]
    assert [s.shape for s in runner.output_spec] == [s.shape for s in net.outputs]
    runner.warmup(1)
    for feeds in (net.random_inputs(np.random.default_rng(3), 1), net.real_inputs(1)):
        results = cross_validate(runner, _reference(name, feeds), feeds)
        assert all(r.ok for r in results), results
        assert results[0].tolerance == TOLERANCE[precision]


@pytest.mark.parametrize("name", list(NETWORKS))
def test_torch_cpu_runner_contract(name):
    net = NETWORKS[name]
    runner = TorchRunner(net.build(None), net.inputs, net.outputs)
    feeds = net.random_inputs(np.random.default_rng(4), 2)
    out = runner.process(*(feeds[s.name] for s in net.inputs))
    assert out.shape == net.outputs[0].batched(2)
    runner.warmup(1)


def test_wrong_shape_names_expected_and_actual(onnx_models):
    runner = OnnxRuntimeRunner(onnx_models[("pixel_warp", "fp32")])
    with pytest.raises(ValueError, match=r"expected \(N, \(3, 256, 256\)\), got \(1, 3, 64, 64\)"):
        runner.infer({"image": np.zeros((1, 3, 64, 64), np.float32), "pixel_map": np.zeros((1, 256, 256, 2))})


@pytest.mark.gpu
@pytest.mark.parametrize("backend", GPU_ORDER)
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_gpu_backends_agree_with_torch(backend, precision):
    from export.registry import DEFAULT_WEIGHTS_DIR

    ok, why = availability(backend, probe())
    if not ok:
        pytest.skip(f"{backend} cannot run here: {why}")
    for name, net in NETWORKS.items():
        runner = create_runner(BackendChoice(name, backend, "test"), precision, weights=DEFAULT_WEIGHTS_DIR)
        feeds = net.real_inputs(1)
        ref = _reference(name, feeds, DEFAULT_WEIGHTS_DIR)
        assert all(r.ok for r in cross_validate(runner, ref, feeds)), (name, backend, precision)


def test_fp32_on_cuda_turns_torchs_tf32_off():
    """Issue #19 item 2, torch side: cuDNN convolutions default to TF32 (torch 2.9+: cudnn.conv
    fp32_precision "tf32"); a torch-cuda fp32 runner sets IEEE fp32 for convolutions and matmuls."""
    import torch

    from streamer.backends.runner import use_ieee_fp32

    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = conv.fp32_precision, matmul.fp32_precision
    try:
        use_ieee_fp32(torch)
        assert (conv.fp32_precision, matmul.fp32_precision) == ("ieee", "ieee")
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved
