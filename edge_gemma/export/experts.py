"""Gemma 4's MoE expert weights compressed one layer at a time, gate and up apart.

The export keeps each layer's fused gate/up expert weight (128 x 1408 x 2816 at 26B-A4B) as one
bf16 constant, widened and split in two in the graph (optimum_gemma.py, change 6): splitting it
in the checkpoint's memory would copy every expert weight. NNCF compresses a MatMul's weight only
when the constant reaches it through decompression ops, and a split is not one, so it would leave
the largest weights of the model in bf16.

So before NNCF runs, each fused weight is split here, one layer at a time: its two halves become
the weights of a two-MatMul model that NNCF compresses with the preset's own arguments, and the
decompression chains NNCF writes there replace the split's outputs. The result is what NNCF
writes for separate gate and up weights (tests/export/test_experts.py), with one layer's halves
in memory at a time; the CPU plugin still fuses the block into GatherMatmul.
"""

from __future__ import annotations

import re

import numpy as np

from ..recipes import QuantPreset
from .compression import nncf_arguments, run_nncf


def fused_expert_weights(model) -> list:
    """(constant, split) for each 3-D constant that a Convert widens and a two-way VariadicSplit
    hands to two MatMuls as their weights: the fused gate/up expert weights."""
    found = []
    for const in model.get_ordered_ops():
        if const.get_type_name() != "Constant" or len(const.get_output_shape(0)) != 3:
            continue
        for convert in (t.get_node() for t in const.output(0).get_target_inputs()):
            if convert.get_type_name() != "Convert":
                continue
            for split in (t.get_node() for t in convert.output(0).get_target_inputs()):
                if split.get_type_name() == "VariadicSplit" and len(split.outputs()) == 2 and all(
                        t.get_node().get_type_name() == "MatMul" and t.get_index() == 1
                        for out in split.outputs() for t in out.get_target_inputs()):
                    found.append((const, split))
    return found


def _halves(const, split) -> list[np.ndarray]:
    """The two halves of the fused constant, contiguous, as its raw 16-bit values (openvino
    2026.4 hands a bf16 constant's bits over typed float16)."""
    data = const.get_data()
    axis = int(split.input_value(1).get_node().get_data()) % 3
    lengths = [out.get_partial_shape()[axis].get_length() for out in split.outputs()]
    return [np.ascontiguousarray(half) for half in np.split(data, np.cumsum(lengths)[:-1], axis=axis)]


def _layer_model(name: str, halves: list[np.ndarray], element_type):
    """x -> MatMul(x, half, transpose_b) for each half, the halves as constants of the fused
    weight's type: the weights as NNCF would see them apart."""
    import openvino as ov
    import openvino.opset13 as ops

    experts, _, width = halves[0].shape
    x = ops.parameter([experts, -1, width], ov.Type.f32, name="x")
    results = []
    for part, half in zip(("gate", "up"), halves):
        tensor = ov.Tensor(element_type, ov.Shape(list(half.shape)))
        tensor.data[...] = half
        weight = ov.op.Constant(tensor)
        weight.set_friendly_name(f"{name}/{part}")
        results.append(ops.matmul(x, ops.convert(weight, ov.Type.f32), transpose_a=False, transpose_b=True,
                                  name=f"{name}/{part}/MatMul"))
    return ov.Model(results, [x])


# Data-aware methods need the whole model's activations; each expert weight is compressed on
# its own (the MoE recipes are data-free: recipes/gemma-4-26b-a4b-it.yaml).
_DATA_AWARE = ("awq", "scale_estimation", "gptq", "lora_correction", "subset_size", "sensitivity_metric")


def _arguments(preset: QuantPreset) -> dict:
    """The preset's NNCF arguments for expert weights, data-free: every one takes the preset's
    own bits (all_layers: the two-MatMul model's second MatMul is not the model's last layer)."""
    args = {k: v for k, v in nncf_arguments(preset).items() if k not in (*_DATA_AWARE, "ignored_patterns")}
    if preset.weights == "int4":
        args["all_layers"] = True
    return args


def compress_experts(model, preset: QuantPreset) -> list[str]:
    """Compress `model`'s fused expert weights in place as NNCF would compress them apart;
    their names. fp16 (nothing to do) and weights the preset leaves uncompressed are skipped."""
    if nncf_arguments(preset) is None:
        return []
    done = []
    for const, split in fused_expert_weights(model):
        name = const.get_friendly_name()
        if preset.uncompressed and re.match(preset.uncompressed, name):
            continue
        halves = _halves(const, split)
        layer = run_nncf(_layer_model(name, halves, const.get_element_type()), _arguments(preset))
        del halves
        for out, result in zip(split.outputs(), layer.get_results()):
            chain = result.input_value(0).get_node().input_value(1)  # the MatMul's weight, decompressed
            for target in list(out.get_target_inputs()):
                target.replace_source_output(chain)
        done.append(name)
    return done
