"""Bitwidth statistics read back from a written model: which precision each weight ended in.

Counted from the saved model, not taken from NNCF's log, so the manifest states what is on
disk. A weight is the constant at the root of a MatMul's or Gather's weight input, found
by walking up through the decompression subgraph NNCF inserts
(Constant(u4/u8) -> Convert -> Subtract(zero point) -> Multiply(scale) -> Reshape).
"""

from __future__ import annotations

import math
from collections import defaultdict

_DECOMPRESSION_OPS = {"Convert", "Subtract", "Multiply", "Reshape"}
# Input index holding the weight: Gather's table is input 0, MatMul's weight is input 1.
_WEIGHT_INPUT = {"MatMul": 1, "Gather": 0}


def _weight_constant(node):
    """The root Constant of a weight input and the decompression ops on the way, or None."""
    seen = set()
    while node.get_type_name() in _DECOMPRESSION_OPS:
        seen.add(node.get_type_name())
        node = node.input_value(0).get_node()
    if node.get_type_name() != "Constant":
        return None, seen
    return node, seen


def _precision(const, ops: set[str]) -> str:
    etype = const.get_element_type().get_type_name()
    if etype in ("u4", "i4"):
        bits = "int4"
    elif etype in ("u8", "i8"):
        bits = "int8"
    else:
        return "float"
    return f"{bits}_{'asym' if 'Subtract' in ops else 'sym'}"


def bitwidth_stats(model) -> dict:
    """{precision: {"params": n, "layers": n, "share": fraction of params}} for an ov.Model."""
    counted = {}
    for op in model.get_ordered_ops():
        index = _WEIGHT_INPUT.get(op.get_type_name())
        if index is None:
            continue
        const, ops = _weight_constant(op.input_value(index).get_node())
        if const is None or len(const.get_output_shape(0)) < 2:
            continue  # activations, or tiny index/shape constants
        size = 1
        for dim in const.get_output_shape(0):
            size *= dim
        counted[const.get_friendly_name()] = (_precision(const, ops), size)
    return _totals(counted)


def _totals(counted: dict) -> dict:
    totals = defaultdict(lambda: {"params": 0, "layers": 0})
    for precision, size in counted.values():
        totals[precision]["params"] += size
        totals[precision]["layers"] += 1
    all_params = sum(t["params"] for t in totals.values()) or 1
    return {
        precision: dict(t, share=round(t["params"] / all_params, 6))
        for precision, t in sorted(totals.items())
    }


# ONNX: NNCF writes signed weights without a zero point for sym, unsigned with one for asym.
_ONNX_PRECISION = {"INT4": "int4_sym", "UINT4": "int4_asym", "INT8": "int8_sym", "UINT8": "int8_asym"}
_ONNX_WEIGHT_INPUT = {"DequantizeLinear": 0, "MatMul": 1, "Gather": 0}


def onnx_bitwidth_stats(model) -> dict:
    """The same statistics for an `onnx.ModelProto` (external data need not be loaded)."""
    from onnx import TensorProto

    inits = {i.name: i for i in model.graph.initializer}
    counted = {}
    for node in model.graph.node:
        index = _ONNX_WEIGHT_INPUT.get(node.op_type)
        if index is None or len(node.input) <= index:
            continue
        init = inits.get(node.input[index])
        if init is None or len(init.dims) < 2:
            continue
        dtype = TensorProto.DataType.Name(init.data_type)
        counted[init.name] = (_ONNX_PRECISION.get(dtype, "float"), math.prod(init.dims))
    return _totals(counted)
