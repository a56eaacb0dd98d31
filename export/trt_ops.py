"""Static check: can TensorRT 10's ONNX parser import every node of our graphs natively?

Source of the table: onnx-tensorrt ``docs/operators.md`` for TensorRT 10.0 (release/10.0 branch,
"TensorRT 10.0 supports operators in the inclusive range of opset 9 to opset 20"). Only the ops our
networks (and the planned generators: convolutions, normalisation, upsampling) use are listed, with
the restrictions that matter to us; anything else is flagged so it is looked up before it ships.
GridSample on 5-D inputs (volumetric) needs a plugin in TensorRT, so it is refused outright.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import onnx

DOC_VERSION = "onnx-tensorrt docs/operators.md, TensorRT 10.0 (release/10.0)"
OPSET_RANGE = (9, 20)  #: inclusive, TensorRT 10.0

#: op -> restriction note from the TensorRT 10.0 support matrix ("" when none that concerns us).
SUPPORTED: dict[str, str] = {
    "Abs": "",
    "Add": "",
    "And": "",
    "AveragePool": "2D or 3D pooling only",
    "BatchNormalization": "",
    "Cast": "",
    "Ceil": "",
    "Clip": "",
    "Concat": "",
    "Constant": "",
    "ConstantOfShape": "",
    "Conv": "2D or 3D convolutions only",
    "ConvTranspose": "2D or 3D deconvolutions only",
    "Cos": "",
    "DepthToSpace": "",
    "Div": "",
    "Einsum": "no ellipsis / diagonal; no broadcasting between inputs",
    "Equal": "",
    "Erf": "",
    "Exp": "",
    "Expand": "",
    "Flatten": "",
    "Floor": "",
    "Gather": "",
    "Gemm": "",
    "GlobalAveragePool": "",
    "Greater": "",
    "GridSample": "4-D input only (5-D needs a plugin)",
    "Identity": "",
    "InstanceNormalization": "input rank 3 to 5",
    "LayerNormalization": "",
    "LeakyRelu": "",
    "Less": "",
    "MatMul": "",
    "Max": "",
    "MaxPool": "2D or 3D pooling only; no Indices output",
    "Min": "",
    "Mul": "",
    "Neg": "",
    "Not": "",
    "Or": "",
    "Pad": "",
    "Pow": "",
    "PRelu": "",
    "Range": "float start/limit/delta must be initializers",
    "Reciprocal": "",
    "ReduceMax": "",
    "ReduceMean": "",
    "ReduceSum": "",
    "Relu": "",
    "Reshape": "",
    "Resize": "modes nearest / linear / cubic",
    "Round": "",
    "Shape": "",
    "Sigmoid": "",
    "Sin": "",
    "Slice": "",
    "Softmax": "",
    "Split": "",
    "Sqrt": "",
    "Squeeze": "",
    "Sub": "",
    "Tanh": "",
    "Tile": "",
    "Transpose": "",
    "Unsqueeze": "",
    "Where": "",
}


@dataclass(frozen=True)
class OpIssue:
    """One reason a graph may not import into TensorRT natively."""

    op: str
    node: str
    reason: str


def _rank(model: onnx.ModelProto, name: str) -> int | None:
    for vi in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        if vi.name == name and vi.type.tensor_type.HasField("shape"):
            return len(vi.type.tensor_type.shape.dim)
    return None


def _grid_sample(model: onnx.ModelProto, node: onnx.NodeProto) -> str | None:
    rank = _rank(model, node.input[0])
    if rank is None:
        return "input rank unknown (run shape inference first); 5-D GridSample needs a plugin"
    return None if rank == 4 else f"{rank}-D GridSample needs a TensorRT plugin (only 4-D is native)"


def _resize(model: onnx.ModelProto, node: onnx.NodeProto) -> str | None:
    mode = next((a.s.decode() for a in node.attribute if a.name == "mode"), "nearest")
    return None if mode in ("nearest", "linear", "cubic") else f"Resize mode {mode!r} is not supported"


RESTRICTIONS: dict[str, Callable[[onnx.ModelProto, onnx.NodeProto], str | None]] = {
    "GridSample": _grid_sample,
    "Resize": _resize,
}


def check_tensorrt_ops(model: onnx.ModelProto) -> list[OpIssue]:
    """Issues that would stop TensorRT 10's parser (empty list: every node imports natively).

    ``model`` should carry inferred shapes (``export.onnx_export.check_onnx``) for the rank checks.
    """
    issues = []
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and not OPSET_RANGE[0] <= imp.version <= OPSET_RANGE[1]:
            issues.append(OpIssue("opset", "", f"opset {imp.version} outside TensorRT 10.0's {OPSET_RANGE}"))
    for node in model.graph.node:
        label = node.name or node.output[0]
        if node.domain not in ("", "ai.onnx"):
            issues.append(OpIssue(node.op_type, label, f"custom domain {node.domain!r} needs a plugin"))
        elif node.op_type not in SUPPORTED:
            issues.append(OpIssue(node.op_type, label, f"not in our TensorRT 10 table ({DOC_VERSION}); check it"))
        elif node.op_type in RESTRICTIONS and (reason := RESTRICTIONS[node.op_type](model, node)):
            issues.append(OpIssue(node.op_type, label, reason))
    return issues
