"""float32 ONNX graph -> float16, keeping sample coordinates in float32.

Why our own pass: onnxruntime's bundled ``convert_float_to_float16`` rounds every blocked node's
output through float16 before the next blocked node reads it, which defeats keeping coordinates
in float32 (a 256-pixel map loses 1/8 pixel per step). This pass gives each float tensor one type:
float32 for the ``fp32_inputs``, everything computed from them up to the first sampling op
(``fp32_cone``), the coordinate arithmetic that builds every sampling grid inside the graph
(``grid_cone``: an identity grid plus a predicted flow loses 1/16 pixel at 256 in float16) and
inputs the ONNX spec requires in float32 (Resize roi / scales); float16 for the rest. Casts go
only where a tensor's type differs from what its consumer needs.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16
#: ops whose output is sampled pixel data: the float32 cone of coordinate inputs stops after them.
SAMPLING_OPS = ("GridSample",)
#: (op, input index) slots the ONNX spec types as float32 whatever the data type.
FP32_SLOTS = {("Resize", 1), ("Resize", 2), ("Upsample", 1)}


def fp32_cone(model: onnx.ModelProto, inputs: tuple[str, ...]) -> list[str]:
    """Names of the nodes that compute from ``inputs``, up to and including the first sampling op."""
    tainted, names = set(inputs), []
    for node in model.graph.node:  # ONNX nodes are topologically sorted
        if any(i in tainted for i in node.input):
            names.append(node.name)
            if node.op_type not in SAMPLING_OPS:
                tainted.update(node.output)
    return names


#: cheap ops that carry coordinates: ``grid_cone`` walks back through them from a sampling grid and
#: stops at anything else (a Conv's flow is computed in float16, then cast and added in float32).
COORDINATE_OPS = (
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Neg",
    "Transpose",
    "Reshape",
    "Unsqueeze",
    "Squeeze",
    "Expand",
    "Concat",
    "Slice",
    "Gather",
    "Resize",
    "Upsample",
    "Cast",
    "Constant",
    "ConstantOfShape",
    "Range",
    "Identity",
    "GridSample",
)


def grid_cone(model: onnx.ModelProto) -> list[str]:
    """The sampling ops and the nodes that compute their grid input (through ``COORDINATE_OPS`` only).

    A sampling op runs in float32 as a whole (onnxruntime's CPU GridSample takes one float type);
    its output is cast back to float16 for the next layer.
    """
    producer = {out: node for node in model.graph.node for out in node.output}
    samplers = [node for node in model.graph.node if node.op_type in SAMPLING_OPS and len(node.input) > 1]
    seen: set[str] = set()
    stack = [node.input[1] for node in samplers]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in seen or node.op_type not in COORDINATE_OPS:
            continue
        seen.add(node.name)
        # A sampling op inside the walk samples coordinates (a flow field): its data input counts too.
        stack.extend(node.input[:2] if node.op_type in SAMPLING_OPS else node.input)
    seen.update(node.name for node in samplers)
    return [node.name for node in model.graph.node if node.name in seen]


def _elem_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    types = {vi.name: vi.type.tensor_type.elem_type for vi in (*g.input, *g.value_info, *g.output)}
    types.update({t.name: t.data_type for t in g.initializer})
    for node in g.node:
        if node.op_type == "Constant":
            types[node.output[0]] = next(a.t.data_type for a in node.attribute if a.name == "value")
    return types


def _needs(node: onnx.NodeProto, index: int, cone: set[str]) -> int:
    return FLOAT if node.name in cone or (node.op_type, index) in FP32_SLOTS else HALF


def to_fp16(model: onnx.ModelProto, fp32_inputs: tuple[str, ...] = ()) -> onnx.ModelProto:
    """A float16 copy of ``model``; see the module docstring for what stays float32."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    for i, node in enumerate(g.node):
        node.name = node.name or f"{node.op_type}_{i}"
    old = _elem_types(model)
    cone = set(fp32_cone(model, fp32_inputs)) | set(grid_cone(model))
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in g.node:
        for k, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node, k))
    constants = {t.name for t in g.initializer} | {n.output[0] for n in g.node if n.op_type == "Constant"}

    new: dict[str, int] = {}
    for name, t in old.items():
        if t != FLOAT:
            continue
        if name in fp32_inputs:
            new[name] = FLOAT
        elif name in constants:  # a constant takes the type its consumers need (float32 if any needs it)
            needs = {_needs(n, k, cone) for n, k in consumers.get(name, [])}
            new[name] = FLOAT if FLOAT in needs else HALF
        else:
            new[name] = HALF
    for node in g.node:
        if node.name in cone and node.op_type != "Constant":
            for out in node.output:
                if old.get(out) == FLOAT:
                    new[out] = FLOAT

    for init in g.initializer:
        if new.get(init.name) == HALF:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in g.node:
        for attr in node.attribute:
            if attr.name == "value" and attr.t.data_type == FLOAT and new.get(node.output[0]) == HALF:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16)))
            if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT and new.get(node.output[0]) == HALF:
                attr.i = HALF

    nodes: list[onnx.NodeProto] = []
    casts: dict[tuple[str, int], str] = {}

    def cast(name: str, to: int) -> str:
        if (name, to) not in casts:
            out = f"{name}_as_{'fp32' if to == FLOAT else 'fp16'}"
            nodes.append(helper.make_node("Cast", [name], [out], name=f"{out}_cast", to=to))
            casts[(name, to)] = out
        return casts[(name, to)]

    out_types = {o.name: HALF for o in g.output if old.get(o.name) == FLOAT}
    renamed: dict[str, str] = {}
    for node in list(g.node):
        for k, name in enumerate(node.input):
            if name in new and new[name] != _needs(node, k, cone):
                node.input[k] = cast(name, _needs(node, k, cone))
        for j, out in enumerate(node.output):
            if out in out_types and new.get(out) == FLOAT:  # a float32 node feeds a float16 graph output
                node.output[j] = renamed[out] = f"{out}_fp32"
                new[out] = HALF  # later readers get the float16 graph output
        nodes.append(node)
        for out in node.output:
            if out in renamed.values():
                original = out[: -len("_fp32")]
                nodes.append(helper.make_node("Cast", [out], [original], name=f"{original}_cast", to=HALF))
    del g.node[:]
    g.node.extend(nodes)
    for vi in (*g.input, *g.output):
        if old.get(vi.name) == FLOAT:
            vi.type.tensor_type.elem_type = FLOAT if vi.name in fp32_inputs else HALF
    del g.value_info[:]
    return model
