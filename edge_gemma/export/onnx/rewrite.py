"""Rewrites of an NNCF-compressed ONNX graph so ONNX Runtime runs it with fused kernels
(and a tied LM head is stored once).

NNCF 3.4 writes int8 weights as per-channel `DequantizeLinear` -> `MatMul`, and int4
weights as blockwise `DequantizeLinear` (opset 21). ONNX Runtime 1.32 fuses blockwise DQ ->
MatMul into `MatMulNBits` (4- and 8-bit), but leaves per-channel DQ alone: it then
dequantizes every int8 weight on every call, an order of magnitude slower (docs/onnx.md).
The embedding table has the same problem: NNCF's DQ sits before the `Gather`, so the
whole 262144 x 640 table was dequantized for each token.

Both rewrites keep to standard ONNX ops and are exact (same arithmetic), so the file still
reads in OpenVINO and any ONNX runtime:
- per-channel int8 DQ before a MatMul -> the same DQ written blockwise along K (the scale
  and zero point repeated for every block);
- DQ -> Gather -> Gather of the quantized rows, then (q - zero_point) * scale on them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BLOCK_SIZES = (128, 256, 64, 32, 16)  # MatMulNBits wants a power of two >= 16


def _consumers(graph) -> dict[str, list]:
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    return users


def _attr(node, name, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _is_per_channel(node, inits) -> bool:
    return (
        node.op_type == "DequantizeLinear"
        and _attr(node, "block_size", 0) == 0
        and all(name in inits for name in node.input)
        and len(inits[node.input[0]].dims) == 2
    )


def blockwise_int8_matmuls(model) -> int:
    """Per-channel DQ feeding only MatMuls -> blockwise DQ; returns how many were rewritten."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users = _consumers(graph)
    count = 0
    for node in graph.node:
        if not _is_per_channel(node, inits) or _attr(node, "axis", 1) not in (1, -1):
            continue
        if not all(u.op_type == "MatMul" and u.input[1] == node.output[0] for u in users.get(node.output[0], [])):
            continue
        k = inits[node.input[0]].dims[0]
        block = next((b for b in BLOCK_SIZES if k % b == 0), None)
        if block is None:
            continue
        for name in node.input[1:]:
            values = numpy_helper.to_array(inits[name])
            inits[name].CopyFrom(numpy_helper.from_array(np.tile(values[None, :], (k // block, 1)), name))
        del node.attribute[:]
        node.attribute.extend([helper.make_attribute("axis", 0), helper.make_attribute("block_size", block)])
        count += 1
    return count


def gather_before_dequantize(model) -> int:
    """DQ(table) -> Gather(ids)  becomes  (Gather(q, ids) - Gather(zp, ids)) * Gather(scale, ids)."""
    from onnx import TensorProto, helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users = _consumers(graph)
    count = 0
    for node in list(graph.node):
        if not _is_per_channel(node, inits) or _attr(node, "axis", 1) != 0:
            continue
        gathers = users.get(node.output[0], [])
        if not gathers or not all(g.op_type == "Gather" and g.input[0] == node.output[0]
                                  and _attr(g, "axis", 0) == 0 for g in gathers):
            continue
        scale_type = inits[node.input[1]].data_type
        for i, gather in enumerate(gathers):
            ids, out, p = gather.input[1], gather.output[0], f"{node.name}_gathered{i}"
            q, s = node.input[0], node.input[1]
            new = [
                helper.make_node("Gather", [q, ids], [f"{p}_q"], axis=0),
                helper.make_node("Cast", [f"{p}_q"], [f"{p}_qf"], to=scale_type),
                helper.make_node("Gather", [s, ids], [f"{p}_s"], axis=0),
                helper.make_node("Unsqueeze", [f"{p}_s", f"{p}_last"], [f"{p}_s1"]),
            ]
            graph.initializer.append(helper.make_tensor(f"{p}_last", TensorProto.INT64, [1], [-1]))
            if len(node.input) > 2:  # asymmetric: subtract the zero point first
                zp = node.input[2]
                new += [
                    helper.make_node("Gather", [zp, ids], [f"{p}_z"], axis=0),
                    helper.make_node("Cast", [f"{p}_z"], [f"{p}_zf"], to=scale_type),
                    helper.make_node("Unsqueeze", [f"{p}_zf", f"{p}_last"], [f"{p}_z1"]),
                    helper.make_node("Sub", [f"{p}_qf", f"{p}_z1"], [f"{p}_c"]),
                ]
                centered = f"{p}_c"
            else:
                centered = f"{p}_qf"
            new.append(helper.make_node("Mul", [centered, f"{p}_s1"], [out]))
            at = list(graph.node).index(gather)
            graph.node.remove(gather)
            for offset, n in enumerate(new):
                graph.node.insert(at + offset, n)
        graph.node.remove(node)
        count += 1
    return count


def share_tied_lm_head(model) -> int:
    """Store a tied LM head once: its int8 weight is the embedding table's, transposed.

    Gemma ties the LM head to the embedding. The traced graph holds the table twice
    ([vocab, hidden] for the Gather, [hidden, vocab] for the MatMul) and NNCF quantizes both
    per vocabulary row, to the same integers. When they are equal, the head reads
    Transpose(table) instead, which ONNX Runtime folds back to a constant when it loads the
    model: one vocab x hidden int8 table less on disk. Returns 1 if shared, else 0.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users = _consumers(graph)
    tables = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in inits
              and len(inits[n.input[0]].dims) == 2 and inits[n.input[0]].data_type in (2, 3)]  # uint8, int8
    heads = [n for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits
             and any(u.op_type == "MatMul" for u in users.get(n.output[0], []))]
    for table in tables:
        emb = inits[table.input[0]]
        for head in heads:
            q = inits[head.input[0]]
            if list(q.dims) != list(reversed(emb.dims)) or q.data_type != emb.data_type:
                continue
            if not np.array_equal(numpy_helper.to_array(q), numpy_helper.to_array(emb).T):
                continue
            transposed = f"{emb.name}_transposed"
            at = list(graph.node).index(head)
            graph.node.insert(at, helper.make_node("Transpose", [emb.name], [transposed], perm=[1, 0]))
            head.input[0] = transposed
            if not users.get(q.name) or all(u is head for u in users[q.name]):
                graph.initializer.remove(q)
            return 1
    return 0


def every_position_logits(src: Path, dst_dir: Path) -> Path:
    """A copy of the ONNX decoder at `src` whose logits cover every input position, in `dst_dir`.

    The decoder returns the last position's logits only (decoder.py): a Slice of the hidden
    states just before the LM head. The quality measurement needs the logits of every position
    of a chunk, and stepping the graph one token at a time to get them takes minutes; this copy
    bypasses that one Slice, so one call over the chunk returns them all. Every other node and
    weight is the same. The weights are not copied: the external-data file is hard-linked beside
    the copy (ONNX Runtime 1.32 refuses external data reached through a symlink out of the
    model's folder: "External data path escapes model directory"), so `dst_dir` should be on the
    filesystem of `src`; elsewhere the file is copied.
    """
    import os
    import shutil

    import onnx

    model = onnx.load(src, load_external_data=False)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    name = "logits"
    # From the output back through the final softcap (Gemma 2: Div, Tanh, Mul) to the head.
    node = producer[name]
    while node.op_type not in ("MatMul", "MatMulNBits", "Gemm"):
        node = producer[node.input[0]]
    hidden = producer.get(node.input[0])
    if hidden is None or hidden.op_type != "Slice":
        raise ValueError(f"{src}: no last-position Slice before the LM head (found {hidden and hidden.op_type})")
    node.input[0] = hidden.input[0]
    graph.node.remove(hidden)
    for output in graph.output:
        if output.name == name:
            output.type.tensor_type.shape.dim[1].dim_param = "sequence"
    dst_dir.mkdir(parents=True, exist_ok=True)
    for data in {d.value for init in graph.initializer for d in init.external_data if d.key == "location"}:
        link = dst_dir / data
        if not link.exists():
            try:
                os.link(src.parent / data, link)
            except OSError:  # another filesystem
                shutil.copy2(src.parent / data, link)
    out = dst_dir / src.name
    onnx.save(model, out)
    return out
