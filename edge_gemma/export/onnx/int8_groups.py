"""int8 in groups for the ONNX export: llama.cpp's Q8_0 numbers (export/int8_groups.py), written
into the traced fp32 decoder with standard ONNX ops (QUANT=int8-g32 FORMAT=onnx).

Why our own writer: NNCF 3.4 writes int8 per output channel only, for ONNX as for OpenVINO.
The codes and scales are the OpenVINO writer's, so both formats of the level carry the same
weights; the scales are stored as f32 (the f16 values, widened exactly), because ONNX Runtime
1.32 fuses a blockwise `DequantizeLinear` into its 8-bit `MatMulNBits` only when the scale
has the activations' type (an f16 scale leaves DQ -> Cast -> MatMul, dequantized every call).
- a MatMul weight [K, N]: int8 codes [K, N], scales [K / group, N], DequantizeLinear(axis 0,
  block_size group) -> MatMul, which ONNX Runtime fuses into MatMulNBits (bits 8);
- the embedding table [vocab, hidden]: Gather the codes and the scales of the ids' rows, then
  (codes * scale) per group, so one row is dequantized per token, not the table;
- Gemma's tied LM head (the traced graph holds the table again, transposed): when its codes
  and scales come out equal to the table's, it reads Transpose(codes) and Transpose(scales) of
  the table, which ONNX Runtime folds to constants at load (one int8 table on disk).
The float weights are read from the trace's external data file a block of rows at a time
(memory-mapped), never whole in f32: gemma-2-9b-it's table alone is 3.7 GB in f32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ExportError
from ..int8_groups import RULE, check_widths, quantize_matrix
from ..weights import onnx_scale_gathers
from .rewrite import _attr, _consumers


def _matrix(init, folder: Path) -> np.ndarray:
    """An f32 initializer's values: memory-mapped from its external data file when it has one."""
    from onnx import TensorProto, numpy_helper

    if init.data_location == TensorProto.EXTERNAL:
        where = {entry.key: entry.value for entry in init.external_data}
        return np.memmap(folder / where["location"], np.float32, "r", int(where.get("offset", 0)), tuple(init.dims))
    return numpy_helper.to_array(init)


def _blocks(rows: np.ndarray, group: int) -> tuple[np.ndarray, np.ndarray]:
    """rows [n, width] (each quantized along its width) -> codes [n, width], f32 scales [n, width / group]."""
    blocks = quantize_matrix(rows, group)
    return blocks.codes.reshape(rows.shape), blocks.scale[..., 0].astype(np.float32)


def _gather_rows(graph, node, codes: str, scales: str, group: int) -> list:
    """Nodes that replace Gather(table, ids): the ids' rows of codes and scales, multiplied group by group."""
    from onnx import TensorProto, helper

    ids, out = node.input[1], node.output[0]
    p = f"{node.name or out}_int8_groups"
    graph.initializer.extend([helper.make_tensor(f"{p}_grouped", TensorProto.INT64, [2], [-1, group]),
                              helper.make_tensor(f"{p}_one", TensorProto.INT64, [2], [-1, 1])])
    return [
        helper.make_node("Gather", [codes, ids], [f"{p}_q"], axis=0),
        helper.make_node("Shape", [f"{p}_q"], [f"{p}_shape"]),
        helper.make_node("Cast", [f"{p}_q"], [f"{p}_qf"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", [f"{p}_qf", f"{p}_grouped"], [f"{p}_qg"]),
        helper.make_node("Gather", [scales, ids], [f"{p}_s"], axis=0),
        helper.make_node("Reshape", [f"{p}_s", f"{p}_one"], [f"{p}_sg"]),
        helper.make_node("Mul", [f"{p}_qg", f"{p}_sg"], [f"{p}_w"]),
        helper.make_node("Reshape", [f"{p}_w", f"{p}_shape"], [out]),
    ]


def _float_weights(graph) -> tuple[list, list]:
    """The nodes reading a 2-D float initializer as a Gather's table (axis 0; not another table's
    group scales) and as a MatMul's weight."""
    from onnx import TensorProto

    inits = {i.name: i for i in graph.initializer}
    scales = onnx_scale_gathers(graph)

    def matrix(name):
        init = inits.get(name)
        return init is not None and len(init.dims) == 2 and init.data_type == TensorProto.FLOAT

    gathers = [n for n in graph.node if n.op_type == "Gather" and matrix(n.input[0]) and _attr(n, "axis", 0) == 0
               and n.output[0] not in scales]
    matmuls = [n for n in graph.node if n.op_type == "MatMul" and matrix(n.input[1])]
    return gathers, matmuls


def _insert_before(graph, node, new: list) -> None:
    at = list(graph.node).index(node)
    for offset, added in enumerate(new):
        graph.node.insert(at + offset, added)


def write_int8_groups_onnx(src: Path, dst: Path, group_size: int) -> dict:
    """The fp32 ONNX decoder at `src` with every weight as int8 groups, saved to `dst` (external
    data beside it); what the manifest records."""
    import onnx
    from onnx import helper, numpy_helper
    from onnx.external_data_helper import load_external_data_for_model

    folder = src.parent
    model = onnx.load(src, load_external_data=False)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    gathers, matmuls = _float_weights(graph)
    if not gathers and not matmuls:
        raise ExportError(f"{src} has no float MatMul or Gather weights to write as int8 groups; "
                          "was it compressed already? trace the checkpoint again")
    check_widths([(g.input[0], inits[g.input[0]].dims[1]) for g in gathers]
                 + [(m.input[1], inits[m.input[1]].dims[0]) for m in matmuls], group_size)
    readers = _consumers(graph)
    rewritten = {id(n) for n in gathers + matmuls}
    other = next(((name, n) for name in {n.input[0] for n in gathers} | {n.input[1] for n in matmuls}
                  for n in readers[name] if id(n) not in rewritten), None)
    if other:
        raise ExportError(f"{other[0]} is read by a {other[1].op_type} as well as by MatMul/Gather, which int8 "
                          "groups do not rewrite: pick QUANT=int8")

    new_inits = []
    written: dict[str, tuple] = {}  # weight name -> (codes, scales, group, codes name, scales name)
    dequantized: dict[str, tuple] = {}  # MatMul weight name -> (codes, scales, group, DQ outputs)

    def quantize(rows: np.ndarray) -> tuple:
        group = min(group_size, rows.shape[1])
        return (*_blocks(rows, group), group)

    for node in gathers:
        name = node.input[0]
        if name not in written:
            codes, scales, group = quantize(_matrix(inits[name], folder))
            written[name] = (codes, scales, group, f"{name}_int8", f"{name}_scale")
            new_inits += [numpy_helper.from_array(codes, f"{name}_int8"), numpy_helper.from_array(scales, f"{name}_scale")]
        _, _, group, codes_name, scales_name = written[name]
        _insert_before(graph, node, _gather_rows(graph, node, codes_name, scales_name, group))
        graph.node.remove(node)

    tied = 0
    for node in matmuls:
        name = node.input[1]
        p = f"{name}_int8_groups"
        extra = []
        if name not in dequantized:
            # [K inputs, N outputs]: groups run along each output's inputs, so quantize its transpose.
            codes, scales, group = quantize(_matrix(inits[name], folder).T)
            table = next((t for t in written.values() if t[2] == group and np.array_equal(t[0], codes)
                          and np.array_equal(t[1], scales)), None)
            if table is not None:  # the tied LM head: the table's own codes and scales, transposed
                codes_in, scales_in = f"{p}_codes", f"{p}_scales"
                extra = [helper.make_node("Transpose", [table[3]], [codes_in], perm=[1, 0]),
                         helper.make_node("Transpose", [table[4]], [scales_in], perm=[1, 0])]
                tied += 1
            else:
                codes_in, scales_in = f"{name}_int8", f"{name}_scale"
                new_inits += [numpy_helper.from_array(np.ascontiguousarray(codes.T), codes_in),
                              numpy_helper.from_array(np.ascontiguousarray(scales.T), scales_in)]
                written[name] = (codes, scales, group, codes_in, scales_in)
            del codes, scales
            dequantized[name] = (codes_in, scales_in, group, [])
        # A DequantizeLinear per reader, the codes and scales stored once. (Gemma's traces share no
        # MatMul weight; if one did, ONNX Runtime 1.32 would not fuse its readers into MatMulNBits,
        # which wants the codes to itself: slower, the same numbers.)
        codes_in, scales_in, group, outputs = dequantized[name]
        out = f"{p}_dq{len(outputs) or ''}"
        outputs.append(out)
        _insert_before(graph, node, [*extra, helper.make_node(
            "DequantizeLinear", [codes_in, scales_in], [out], name=out, axis=0, block_size=group)])
        node.input[1] = out

    for name in {n.input[0] for n in gathers} | set(dequantized):
        graph.initializer.remove(inits[name])
    graph.initializer.extend(new_inits)
    # What stays float (norm weights) is read from the trace's external data before saving.
    load_external_data_for_model(model, str(folder))
    onnx.save(model, dst, save_as_external_data=True, location=dst.name + ".data", size_threshold=1024)
    return {"mode": "int8_sym", "group_size": group_size, "weights": len(written), "tied_head_shared": tied,
            "one_group_per_row": [name for name, w in written.items() if w[2] != group_size],
            "scales": "f32 (the f16 values, exact), which ONNX Runtime's 8-bit MatMulNBits fusion needs",
            "rule": RULE}
