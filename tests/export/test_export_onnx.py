"""ONNX export: checks, static / dynamic shapes, fp16 conversion, validation against PyTorch."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from export.fp16 import fp32_cone, grid_cone, to_fp16
from export.onnx_export import ExportError, OnnxOptions, check_onnx, export_onnx, serialize
from export.registry import CROP, NETWORKS, get_network
from export.validate import example_cases, validate_onnx


def _dims(vi: onnx.ValueInfoProto) -> list:
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


class TestPixelWarpExport:
    def test_static_shapes_and_opset(self, warp_onnx):
        _, _, model = warp_onnx
        assert [_dims(i) for i in model.graph.input] == [[1, 3, CROP, CROP], [1, CROP, CROP, 2]]
        assert _dims(model.graph.output[0]) == [1, 3, CROP, CROP]
        assert max(i.version for i in model.opset_import if i.domain in ("", "ai.onnx")) >= 18

    def test_fp32_matches_torch_on_random_and_real(self, warp_simplified):
        net, module, model = warp_simplified
        checks = validate_onnx(net, module, serialize(model), "fp32", example_cases(net))
        assert {c.case for c in checks} == {"random", "real"}
        assert all(c.ok for c in checks), [c.line() for c in checks]

    def test_fp16_keeps_coordinates_in_fp32(self, warp_simplified):
        net, module, model = warp_simplified
        half = check_onnx(to_fp16(model, net.fp32_inputs))
        types = {i.name: i.type.tensor_type.elem_type for i in half.graph.input}
        assert types == {"image": onnx.TensorProto.FLOAT16, "pixel_map": onnx.TensorProto.FLOAT}
        assert half.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
        assert "/GridSample" in fp32_cone(model, ("pixel_map",))
        checks = validate_onnx(net, module, serialize(half), "fp16", example_cases(net), serialize(model))
        assert all(c.ok and c.method == "onnxruntime-cpu" for c in checks), [c.line() for c in checks]

    def test_fp16_builds_in_graph_grids_in_fp32(self):
        """rfg_local has no coordinate input: its grid (identity + predicted flow) is made inside the graph."""
        net = get_network("rfg_local")
        model = check_onnx(export_onnx(net, net.build(None), OnnxOptions()))
        half = to_fp16(model, net.fp32_inputs)
        inferred = onnx.shape_inference.infer_shapes(half).graph.value_info
        types = {vi.name: vi.type.tensor_type.elem_type for vi in inferred}
        types.update({i.name: i.type.tensor_type.elem_type for i in half.graph.input})
        samplers = [n for n in half.graph.node if n.op_type == "GridSample"]
        assert samplers and all(types[n.input[1]] == onnx.TensorProto.FLOAT for n in samplers)
        cone = grid_cone(model)
        assert not any(n.op_type == "Conv" for n in model.graph.node if n.name in cone)  # the flow net stays fp16
        half_convs = [
            n for n in half.graph.node if n.op_type == "Conv" and types.get(n.output[0]) == onnx.TensorProto.FLOAT16
        ]
        assert half_convs

    def test_dynamic_batch_runs_batch_three(self):
        net = get_network("pixel_warp")
        model = check_onnx(export_onnx(net, net.build(None), OnnxOptions(dynamic_batch=True)))
        assert _dims(model.graph.input[0])[0] == "batch"
        sess = ort.InferenceSession(serialize(model), providers=["CPUExecutionProvider"])
        feeds = net.random_inputs(np.random.default_rng(1), 3)
        assert sess.run(None, feeds)[0].shape == (3, 3, CROP, CROP)

    def test_old_opset_is_refused(self):
        net = get_network("pixel_warp")
        with pytest.raises(ExportError, match="opset 17"):
            export_onnx(net, net.build(None), OnnxOptions(opset=17))

    def test_broken_graph_fails_the_check(self, warp_onnx):
        broken = onnx.ModelProto.FromString(warp_onnx[2].SerializeToString())
        broken.graph.node[-1].input[0] = "nowhere"
        with pytest.raises(ExportError, match="ONNX check failed"):
            check_onnx(broken)


class TestRegistry:
    def test_every_network_declares_consistent_inputs(self):
        for net in NETWORKS.values():
            assert net.path in ("per_source", "per_frame")
            for case in (net.random_inputs(np.random.default_rng(0), 2), net.real_inputs(2)):
                assert set(case) == {s.name for s in net.inputs}
                for spec in net.inputs:
                    assert case[spec.name].shape == spec.batched(2), (net.name, spec.name)
                    assert np.isfinite(case[spec.name]).all()

    def test_unknown_network_lists_known_ones(self):
        with pytest.raises(KeyError, match="pixel_warp"):
            get_network("rfg")
