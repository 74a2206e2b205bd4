"""Fused MoE expert weights compressed a layer at a time (export/experts.py) hold the very bits
NNCF writes for separate gate and up weights, and the model computes the same."""

from __future__ import annotations

import numpy as np
import pytest

from edge_gemma.export.compression import run_nncf
from edge_gemma.export.experts import _arguments, compress_experts, fused_expert_weights
from edge_gemma.recipes import QuantPreset

EXPERTS, INTER, HIDDEN = 4, 32, 128


def _bf16(values: np.ndarray, name: str):
    import openvino as ov

    tensor = ov.Tensor(ov.Type.bf16, ov.Shape(list(values.shape)))
    tensor.data[...] = (values.view(np.uint32) >> 16).astype(np.uint16).view(tensor.data.dtype)
    constant = ov.op.Constant(tensor)
    constant.set_friendly_name(name)
    return constant


def _model(fused: bool):
    """x -> gate and up expert MatMuls -> act(gate) * up, as the export writes it (one bf16
    constant, widened, split in two) or with the two weights apart."""
    import openvino as ov
    import openvino.opset13 as ops

    weight = np.random.default_rng(0).standard_normal((EXPERTS, 2 * INTER, HIDDEN), dtype=np.float32) * 0.02
    x = ops.parameter([EXPERTS, -1, HIDDEN], ov.Type.f32, name="x")
    if fused:
        widened = ops.convert(_bf16(weight, "layers.0.experts.gate_up_proj"), ov.Type.f32)
        halves = ops.variadic_split(widened, ops.constant(1), ops.constant([INTER, INTER])).outputs()
    else:
        halves = [ops.convert(_bf16(np.ascontiguousarray(half), f"layers.0.experts.gate_up_proj/{part}"), ov.Type.f32)
                  for part, half in zip(("gate", "up"), np.split(weight, 2, axis=1))]
    gate, up = (ops.matmul(x, half, transpose_a=False, transpose_b=True) for half in halves)
    return ov.Model([ops.multiply(ops.swish(gate), up)], [x])


def _constants(model) -> dict:
    return {op.get_friendly_name(): op.get_data().copy() for op in model.get_ordered_ops()
            if op.get_type_name() == "Constant" and op.get_byte_size() > 32}


def _outputs(model):
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(np.random.default_rng(1).standard_normal((EXPERTS, 3, HIDDEN), dtype=np.float32))[0]


def test_the_fused_weights_are_found_and_nothing_else():
    assert [c.get_friendly_name() for c, _ in fused_expert_weights(_model(fused=True))] == [
        "layers.0.experts.gate_up_proj"]
    assert fused_expert_weights(_model(fused=False)) == []


@pytest.mark.parametrize("preset", [QuantPreset(weights="int8"),
                                    QuantPreset(weights="int4", group_size=64, backup="int8_asym"),
                                    QuantPreset(weights="int4", sym=True, group_size=32, awq=True)],
                         ids=["int8_asym", "int4_asym g64", "int4_sym g32, AWQ in the preset"])
def test_a_layer_at_a_time_gives_nncfs_own_bits_for_the_weights_apart(preset):
    model = _model(fused=True)
    assert compress_experts(model, preset) == ["layers.0.experts.gate_up_proj"]
    model.validate_nodes_and_infer_types()
    apart = run_nncf(_model(fused=False), _arguments(preset))
    expected, got = _constants(apart), _constants(model)
    assert sorted(got) == sorted(expected) and len(expected) >= 4  # codes and scales of gate and up
    for name in expected:
        assert got[name].dtype == expected[name].dtype and np.array_equal(got[name], expected[name]), name
    assert np.array_equal(_outputs(model), _outputs(apart))


def test_uncompressed_and_fp16_leave_the_fused_weight_alone():
    assert compress_experts(_model(fused=True), QuantPreset(weights="int8", uncompressed=".*experts.*")) == []
    assert compress_experts(_model(fused=True), QuantPreset(weights="fp16")) == []
