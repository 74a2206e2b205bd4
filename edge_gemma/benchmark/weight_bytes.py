"""Bytes of weights read to decode one token, per format: what decode speed is bound by.

Decoding one token multiplies by every matmul weight once (the tied LM head included) and
reads one row of the embedding table. tokens/s x these bytes = achieved GB/s.
"""

from __future__ import annotations

import math
from pathlib import Path

# Ops between a weight constant and its MatMul in an NNCF-compressed IR (the decompression
# subgraph: Convert -> Subtract zero point -> Multiply scale -> Reshape groups).
_DECOMPRESSION = {"Convert", "Subtract", "Multiply", "Reshape", "Transpose", "Unsqueeze"}


def _reaches_matmul(output, depth: int = 0) -> bool:
    for target in output.get_target_inputs():
        node = target.get_node()
        if node.get_type_name() == "MatMul":
            return True
        if node.get_type_name() in _DECOMPRESSION and depth < 6 and _reaches_matmul(node.output(0), depth + 1):
            return True
    return False


def openvino_ir(xml: Path) -> int:
    """Bytes of every constant that feeds a MatMul (scales and zero points included)."""
    import openvino as ov

    model = ov.Core().read_model(xml)
    total = 0
    for op in model.get_ops():
        if op.get_type_name() == "Constant" and _reaches_matmul(op.output(0)):
            total += op.get_byte_size()
    return total


def gguf_file(path: Path) -> int:
    """Bytes of all GGUF tensors except the embedding table, unless it doubles as the LM head."""
    from gguf import GGUFReader

    tensors = {t.name: int(t.n_bytes) for t in GGUFReader(str(path)).tensors}
    tied = "output.weight" not in tensors
    return sum(n for name, n in tensors.items() if tied or name != "token_embd.weight")



def onnx_model(path: Path) -> int:
    """Bytes of every initializer that feeds a MatMul, through DequantizeLinear and Transpose."""
    import onnx
    from onnx import helper

    model = onnx.load(path, load_external_data=False)
    inits = {i.name: i for i in model.graph.initializer}
    producers = {out: node for node in model.graph.node for out in node.output}

    def size(init) -> int:
        if onnx.TensorProto.DataType.Name(init.data_type) in ("INT4", "UINT4"):
            return math.prod(init.dims) // 2
        return math.prod(init.dims) * helper.tensor_dtype_to_np_dtype(init.data_type).itemsize

    counted: set[str] = set()

    def walk(name: str, depth: int = 0) -> None:
        if name in inits:
            counted.add(name)
        elif name in producers and depth < 4 and producers[name].op_type in ("DequantizeLinear", "Transpose"):
            for source in producers[name].input:
                walk(source, depth + 1)

    for node in model.graph.node:
        if node.op_type == "MatMul":
            walk(node.input[1])
    return sum(size(inits[name]) for name in counted)
