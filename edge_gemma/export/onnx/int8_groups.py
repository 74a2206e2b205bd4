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
- Gemma's tied LM head (the traced graph holds the table again, transposed): when its fp32
  values are the table's, it reads Transpose(codes) and Transpose(scales) of the table, which
  ONNX Runtime folds to constants at load (one int8 table on disk).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ExportError
from ..int8_groups import quantize_matrix
from ..weights import onnx_scale_gathers


def _matrix(init, folder: Path) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(init, base_dir=str(folder))


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


def _weights(graph) -> tuple[list, list]:
    """The 2-D float initializers read as a Gather's table (axis 0; not another table's group
    scales) and as a MatMul's weight."""
    from onnx import TensorProto, helper

    inits = {i.name: i for i in graph.initializer}
    scales = onnx_scale_gathers(graph)

    def matrix(name):
        init = inits.get(name)
        return init is not None and len(init.dims) == 2 and init.data_type == TensorProto.FLOAT

    gathers = [n for n in graph.node if n.op_type == "Gather" and matrix(n.input[0]) and n.output[0] not in scales
               and next((helper.get_attribute_value(a) for a in n.attribute if a.name == "axis"), 0) == 0]
    matmuls = [n for n in graph.node if n.op_type == "MatMul" and matrix(n.input[1])]
    return gathers, matmuls


def write_int8_groups_onnx(src: Path, dst: Path, group_size: int) -> dict:
    """The fp32 ONNX decoder at `src` with every weight as int8 groups, saved to `dst` (external
    data beside it); what the manifest records."""
    import onnx
    from onnx import numpy_helper

    folder = src.parent
    model = onnx.load(src, load_external_data=False)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    gathers, matmuls = _weights(graph)
    if not gathers and not matmuls:
        raise ExportError(f"{src} has no float MatMul or Gather weights to write as int8 groups; "
                          "was it compressed already? trace the checkpoint again")
    uneven = [(n, inits[n].dims[d]) for n, d in [(g.input[0], 1) for g in gathers] + [(m.input[1], 0) for m in matmuls]
              if inits[n].dims[d] % group_size and inits[n].dims[d] > group_size]
    if uneven:
        name, width = uneven[0]
        raise ExportError(f"{name} has rows of {width}, which groups of {group_size} do not divide; "
                          "pick a group size that does (32 divides every Gemma's)")

    new_inits, written, tables, tied, per_row = [], set(), {}, 0, []
    for node in gathers:
        name = node.input[0]
        if name not in tables:
            rows = _matrix(inits[name], folder)
            group = min(group_size, rows.shape[1])
            if group != group_size:
                per_row.append(name)
            codes, scales = _blocks(rows, group)
            tables[name] = (rows, group, f"{name}_int8", f"{name}_scale")
            new_inits += [numpy_helper.from_array(codes, tables[name][2]), numpy_helper.from_array(scales, tables[name][3])]
            written.add(name)
        _, group, codes_name, scales_name = tables[name]
        at = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, new in enumerate(_gather_rows(graph, node, codes_name, scales_name, group)):
            graph.node.insert(at + offset, new)

    from onnx import helper

    for node in matmuls:
        name = node.input[1]
        weight = _matrix(inits[name], folder)  # [K inputs, N outputs]
        group = min(group_size, weight.shape[0])
        if group != group_size:
            per_row.append(name)
        p = f"{name}_int8_groups"
        table = next((t for t in tables.values() if t[0].shape == weight.shape[::-1] and t[1] == group
                      and np.array_equal(t[0].T, weight)), None)
        if table is not None:  # the tied LM head: the table's codes and scales, transposed
            codes_in, scales_in = f"{p}_codes", f"{p}_scales"
            extra = [helper.make_node("Transpose", [table[2]], [codes_in], perm=[1, 0]),
                     helper.make_node("Transpose", [table[3]], [scales_in], perm=[1, 0])]
            tied += 1
        else:
            codes, scales = _blocks(np.ascontiguousarray(weight.T), group)  # groups along K, per output
            codes_in, scales_in = f"{name}_int8", f"{name}_scale"
            new_inits += [numpy_helper.from_array(np.ascontiguousarray(codes.T), codes_in),
                          numpy_helper.from_array(np.ascontiguousarray(scales.T), scales_in)]
            extra = []
        del weight
        dq = helper.make_node("DequantizeLinear", [codes_in, scales_in], [f"{p}_dq"], name=f"{p}_dq", axis=0,
                              block_size=group)
        at = list(graph.node).index(node)
        for offset, new in enumerate([*extra, dq]):
            graph.node.insert(at + offset, new)
        node.input[1] = f"{p}_dq"
        written.add(name)

    for name in written:
        graph.initializer.remove(inits[name])
    graph.initializer.extend(new_inits)
    # What stays float (norm weights) is read from the trace's external data before saving.
    from onnx.external_data_helper import load_external_data_for_model

    load_external_data_for_model(model, str(folder))
    onnx.save(model, dst, save_as_external_data=True, location=dst.name + ".data", size_threshold=1024)
    return {"mode": "int8_sym", "group_size": group_size, "weights": len(written) - tied, "tied_head_shared": tied,
            "one_group_per_row": per_row,
            "scales": "f32 (the f16 values, exact), which ONNX Runtime's 8-bit MatMulNBits fusion needs",
            "rule": "ggml Q8_0's: d = max|w| / 127 in f16, codes round(w / d) against that f16 d"}
