"""The static TensorRT-parser op check."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from export.trt_ops import DOC_VERSION, SUPPORTED, check_tensorrt_ops


def _grid_model(rank: int) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1] + [4] * (rank - 2))
    g = helper.make_tensor_value_info("g", TensorProto.FLOAT, [1] + [4] * (rank - 2) + [rank - 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("GridSample", ["x", "g"], ["y"], name="gs")
    graph = helper.make_graph([node], "g", [x, g], [y])
    return onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]))


def test_our_graphs_are_supported(warp_simplified):
    assert check_tensorrt_ops(warp_simplified[2]) == []


def test_4d_grid_sample_passes_and_5d_is_refused():
    assert check_tensorrt_ops(_grid_model(4)) == []
    (issue,) = check_tensorrt_ops(_grid_model(5))
    assert issue.op == "GridSample" and "plugin" in issue.reason


def test_unknown_op_custom_domain_and_new_opset_are_flagged():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, None)
    nodes = [helper.make_node("NonZero", ["x"], ["y"]), helper.make_node("MyOp", ["x"], ["z"], domain="my.ops")]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [x], [y, z]),
        opset_imports=[helper.make_opsetid("", 22), helper.make_opsetid("my.ops", 1)],
    )
    reasons = {i.op: i.reason for i in check_tensorrt_ops(model)}
    assert "outside" in reasons["opset"]
    assert DOC_VERSION in reasons["NonZero"]
    assert "plugin" in reasons["MyOp"]


def test_table_cites_tensorrt_10():
    assert "TensorRT 10" in DOC_VERSION and "GridSample" in SUPPORTED
