"""The weights of a written model: each one's precision, its bytes, and whether a MatMul reads it.

One walk per format answers what the project asks of a saved model:
- the manifest's bitwidth statistics (which precision each weight ended in), counted from
  the file on disk rather than taken from NNCF's log;
- the benchmark's bytes read per decoded token: decoding multiplies by every MatMul weight
  once (the tied LM head included) and reads one row of the embedding table, so
  tokens/s x these bytes = the memory bandwidth achieved.

A weight is the tensor at the root of a MatMul's weight input or of a Gather's table,
reached through the decompression ops NNCF inserts: in OpenVINO IR
Constant(u4/u8) -> Convert -> Subtract(zero point) -> Multiply(scale) -> Reshape; in ONNX
DequantizeLinear, plus the Transpose of the tied LM head (onnx/rewrite.py). Its bytes are
those of every constant on the way: the quantized tensor, its scales and zero points. A
weight that two ops read (Gemma's tied embedding and LM head) is one weight.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Weight:
    name: str
    precision: str  # int4_sym | int4_asym | int8_sym | int8_asym | float
    params: int  # elements of the weight tensor
    bytes: int  # the tensor plus its scales and zero points, as stored
    feeds_matmul: bool  # read whole for every decoded token (a Gather reads one row)


class _Found:
    """What the walk collects for one weight: its constants, its precision, who reads it."""

    def __init__(self, precision: str, params: int):
        self.precision, self.params = precision, params
        self.constants: dict[str, int] = {}  # name -> bytes
        self.feeds_matmul = False


def _weights(found: dict[str, _Found]) -> list[Weight]:
    return [Weight(name, f.precision, f.params, sum(f.constants.values()), f.feeds_matmul)
            for name, f in found.items()]


# --- OpenVINO IR ----------------------------------------------------------------------------
# VariadicSplit: Gemma 4's fused gate/up expert weight at fp16 (export/experts.py).
_OV_DECOMPRESSION = {"Convert", "Subtract", "Multiply", "Reshape", "Transpose", "Unsqueeze", "VariadicSplit"}
# Input index holding the weight: Gather's table is input 0, MatMul's weight is input 1.
_OV_WEIGHT_INPUT = {"MatMul": 1, "Gather": 0}


def _ov_constants(node, into: dict[str, int]) -> None:
    """Every Constant under `node` through decompression ops (scales and zero points too)."""
    if node.get_type_name() == "Constant":
        into[node.get_friendly_name()] = node.get_byte_size()
    elif node.get_type_name() in _OV_DECOMPRESSION:
        for value in node.input_values():
            _ov_constants(value.get_node(), into)


def _ov_precision(const, chain: set[str]) -> str:
    etype = const.get_element_type().get_type_name()
    bits = {"u4": "int4", "i4": "int4", "u8": "int8", "i8": "int8"}.get(etype)
    if bits is None:
        return "float"
    return f"{bits}_{'asym' if 'Subtract' in chain else 'sym'}"


def openvino_weights(model) -> list[Weight]:
    """The weights of an `openvino.Model`."""
    found: dict[str, _Found] = {}
    for op in model.get_ordered_ops():
        index = _OV_WEIGHT_INPUT.get(op.get_type_name())
        if index is None:
            continue
        top = node = op.input_value(index).get_node()
        chain = set()
        while node.get_type_name() in _OV_DECOMPRESSION:  # the tensor is always input 0
            chain.add(node.get_type_name())
            node = node.input_value(0).get_node()
        if node.get_type_name() != "Constant" or len(node.get_output_shape(0)) < 2:
            continue  # an activation, or a small index/shape constant
        name = node.get_friendly_name()
        if name not in found:
            found[name] = _Found(_ov_precision(node, chain), math.prod(node.get_output_shape(0)))
        _ov_constants(top, found[name].constants)
        found[name].feeds_matmul |= op.get_type_name() == "MatMul"
    return _weights(found)


# --- ONNX -----------------------------------------------------------------------------------
# NNCF writes signed weights without a zero point for sym, unsigned with one for asym.
_ONNX_PRECISION = {"INT4": "int4_sym", "UINT4": "int4_asym", "INT8": "int8_sym", "UINT8": "int8_asym"}
_ONNX_DECOMPRESSION = {"DequantizeLinear", "Transpose"}
_ONNX_WEIGHT_INPUT = {"MatMul": 1, "Gather": 0}


def _onnx_bytes(init) -> int:
    from onnx import TensorProto, helper

    if TensorProto.DataType.Name(init.data_type) in ("INT4", "UINT4"):
        return math.prod(init.dims) // 2  # two per byte
    return math.prod(init.dims) * helper.tensor_dtype_to_np_dtype(init.data_type).itemsize


def onnx_scale_gathers(graph) -> dict[str, str]:
    """Gathers of a float table that are another table's group scales: {node output: the int
    table}. int8 in groups gathers the codes and the scales of the same ids' rows
    (onnx/int8_groups.py); the scales are that weight's bytes, not a float weight."""
    from onnx import TensorProto

    inits = {i.name: i for i in graph.initializer}
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in inits]
    int_tables = {(n.input[1], inits[n.input[0]].dims[0]): n.input[0] for n in gathers
                  if inits[n.input[0]].data_type in (TensorProto.INT8, TensorProto.UINT8)
                  and len(inits[n.input[0]].dims) == 2}
    return {n.output[0]: int_tables[n.input[1], inits[n.input[0]].dims[0]] for n in gathers
            if inits[n.input[0]].data_type == TensorProto.FLOAT and len(inits[n.input[0]].dims) == 2
            and (n.input[1], inits[n.input[0]].dims[0]) in int_tables}


def onnx_weights(model) -> list[Weight]:
    """The weights of an `onnx.ModelProto` (its external data need not be loaded)."""
    from onnx import TensorProto

    inits = {i.name: i for i in model.graph.initializer}
    producers = {out: node for node in model.graph.node for out in node.output}
    scale_gathers = onnx_scale_gathers(model.graph)

    def constants(name: str, into: dict[str, int]) -> None:
        if name in inits:
            into[name] = _onnx_bytes(inits[name])
        elif name in producers and producers[name].op_type in _ONNX_DECOMPRESSION:
            for source in producers[name].input:
                constants(source, into)

    found: dict[str, _Found] = {}
    for node in model.graph.node:
        index = _ONNX_WEIGHT_INPUT.get(node.op_type)
        if index is None or len(node.input) <= index or node.output[0] in scale_gathers:
            continue
        root = node.input[index]
        while root not in inits and root in producers and producers[root].op_type in _ONNX_DECOMPRESSION:
            root = producers[root].input[0]
        init = inits.get(root)
        if init is None or len(init.dims) < 2:
            continue
        if root not in found:
            dtype = TensorProto.DataType.Name(init.data_type)
            found[root] = _Found(_ONNX_PRECISION.get(dtype, "float"), math.prod(init.dims))
        constants(node.input[index], found[root].constants)
        found[root].feeds_matmul |= node.op_type == "MatMul"
    for output, table in scale_gathers.items():
        if table in found:
            constants(producers[output].input[0], found[table].constants)
    return _weights(found)


# --- any saved model ------------------------------------------------------------------------
def read_weights(path: Path) -> list[Weight]:
    """The weights of a saved model: an OpenVINO IR (.xml) or an ONNX file (.onnx)."""
    path = Path(path)
    if path.suffix == ".onnx":
        import onnx

        return onnx_weights(onnx.load(path, load_external_data=False))
    import openvino as ov

    return openvino_weights(ov.Core().read_model(path))


def bitwidth_stats(weights: list[Weight]) -> dict:
    """{precision: {"params": n, "layers": n, "share": fraction of params}}, for the manifest."""
    totals = defaultdict(lambda: {"params": 0, "layers": 0})
    for w in weights:
        totals[w.precision]["params"] += w.params
        totals[w.precision]["layers"] += 1
    all_params = sum(t["params"] for t in totals.values()) or 1
    return {
        precision: dict(t, share=round(t["params"] / all_params, 6))
        for precision, t in sorted(totals.items())
    }


def bytes_per_token(weights: list[Weight]) -> int:
    """Bytes of weights read to decode one token: every weight a MatMul reads."""
    return sum(w.bytes for w in weights if w.feeds_matmul)


def gguf_bytes_per_token(path: Path) -> int:
    """The same for a GGUF file (llama.cpp's input): every tensor but the embedding table,
    unless the table doubles as the LM head (no separate output.weight)."""
    from ..sources.gguf_header import read_header, tensor_data

    tensors = {t.name: tensor_data(path, t).nbytes for t in read_header(path).tensors.values()}
    tied = "output.weight" not in tensors
    return sum(n for name, n in tensors.items() if tied or name != "token_embd.weight")
