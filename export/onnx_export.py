"""Torch module -> checked ONNX model: export, full check + strict shape inference, simplify, fp16.

Exporter: torch's TorchScript-based one (``dynamo=False``): it needs no onnxscript, and opset 18
is the floor (the dynamo exporter at opset 17 fails with onnx >= 1.23 on ``Split num_outputs``).
Models are single files (weights embedded) unless larger than protobuf's 2 GB limit.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import onnx

from export.fp16 import to_fp16
from export.registry import ExportableNetwork

MIN_OPSET = 18
DEFAULT_OPSET = 18
PROTOBUF_LIMIT = 2**31 - 1  # bytes; past this a model must keep its weights in external data
BATCH_AXIS = "batch"
__all__ = ["to_fp16"]  # re-exported: export.fp16 does the conversion


class ExportError(RuntimeError):
    """An exported model failed a check (the message says which and why)."""


@dataclass(frozen=True)
class OnnxOptions:
    """How to export one network."""

    opset: int = DEFAULT_OPSET  #: ONNX opset (18 or newer)
    dynamic_batch: bool = False  #: a symbolic batch axis on every input and output
    simplify: bool = True  #: fold constants / drop redundant nodes after export
    #: bilinear resampling as ONNX GridSample (TensorRT's native layer) or gathers (4x faster in
    #: onnxruntime's CPU kernels); see ``streamer.models.sampling``
    sampler: str = "grid_sample"


def export_onnx(net: ExportableNetwork, module, options: OnnxOptions = OnnxOptions()) -> onnx.ModelProto:
    """Export ``module`` (built from ``net``) with static per-sample shapes and batch 1 (or dynamic)."""
    import torch

    from streamer.models.sampling import sampler

    if options.opset < MIN_OPSET:
        raise ExportError(f"opset {options.opset} is too old; use {MIN_OPSET} or newer")
    args = tuple(torch.zeros(spec.batched(1)) for spec in net.inputs)
    names = [s.name for s in (*net.inputs, *net.outputs)]
    dynamic = {n: {0: BATCH_AXIS} for n in names} if options.dynamic_batch and net.dynamic_batch else None
    buf = io.BytesIO()
    with sampler(options.sampler):
        torch.onnx.export(
            module.eval(),
            args,
            buf,
            input_names=[s.name for s in net.inputs],
            output_names=[s.name for s in net.outputs],
            opset_version=options.opset,
            dynamic_axes=dynamic,
            do_constant_folding=True,
            dynamo=False,
        )
    model = onnx.load_from_string(buf.getvalue())
    model.doc_string = f"reenact {net.name}: {net.doc}"
    return model


def check_onnx(model: onnx.ModelProto) -> onnx.ModelProto:
    """Full checker pass plus strict shape inference; returns the model with inferred value infos."""
    try:
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"ONNX check failed: {exc}") from exc
    for out in inferred.graph.output:
        if not out.type.tensor_type.HasField("shape"):
            raise ExportError(f"output {out.name!r} has no inferred shape")
    return inferred


def simplify_onnx(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Simplified model and how: onnxsim when installed, else onnxruntime's basic graph optimisations
    (constant folding, redundant-node elimination; standard ONNX ops only, no fused ORT kernels)."""
    try:
        import onnxsim
    except ImportError:
        onnxsim = None
    if onnxsim is not None:
        simplified, ok = onnxsim.simplify(model)
        if ok:
            return simplified, "onnxsim"
    import os
    import tempfile

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    with tempfile.TemporaryDirectory() as tmp:
        opts.optimized_model_filepath = os.path.join(tmp, "basic.onnx")
        ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        optimized = onnx.load(opts.optimized_model_filepath)
    # ORT stamps its own opset imports onto the saved model; keep the original ones.
    del optimized.opset_import[:]
    optimized.opset_import.extend(model.opset_import)
    optimized.producer_name, optimized.producer_version = model.producer_name, model.producer_version
    optimized.doc_string = model.doc_string
    return optimized, "onnxruntime basic optimisations (onnxsim not installed)"


def serialize(model: onnx.ModelProto) -> bytes:
    """Single-file bytes; refuses models past protobuf's 2 GB limit (they need external data)."""
    size = model.ByteSize()
    if size > PROTOBUF_LIMIT:
        raise ExportError(f"model is {size / 2**30:.1f} GiB: save it with external data (not needed yet)")
    return model.SerializeToString()


def op_types(model: onnx.ModelProto) -> list[str]:
    """Sorted distinct op types in the main graph and every subgraph."""
    found: set[str] = set()

    def walk(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            found.add(node.op_type)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    return sorted(found)
