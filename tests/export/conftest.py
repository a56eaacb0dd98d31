"""Shared fixtures of the export tests: exported graphs, made once per session."""

from __future__ import annotations

import pytest

from export.onnx_export import OnnxOptions, check_onnx, export_onnx, simplify_onnx


@pytest.fixture(scope="session")
def warp_onnx():
    """(network, module, checked static fp32 model) for the pixel warp."""
    from export.registry import get_network

    net = get_network("pixel_warp")
    module = net.build(None)
    return net, module, check_onnx(export_onnx(net, module, OnnxOptions()))


@pytest.fixture(scope="session")
def warp_simplified(warp_onnx):
    net, module, model = warp_onnx
    return net, module, check_onnx(simplify_onnx(model)[0])
