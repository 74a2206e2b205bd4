"""An IR's weight constants, read as f32 and replaced by OpenVINO's compressed-weight chain.

What the exports that write their own compressed weights share (a GGUF's kept blocks,
gguf_weights.py; int8 in groups, int8_groups.py; the big tables, tables.py): finding the
float matrices a MatMul or a Gather reads, widening their bf16 to f32 a block at a time, and
putting in their place the chain NNCF writes (Constant -> Convert -> [Subtract zero point] ->
Multiply scale -> Reshape), which the CPU, GPU and NPU plugins fuse into their compressed
kernels and edge_gemma's weight walk (weights.py) reads back.
"""

from __future__ import annotations

import numpy as np

from .gguf_blocks import Blocks


def float32(block: np.ndarray, bf16: bool) -> np.ndarray:
    """A block of a constant's data in f32. openvino 2026.4's Constant.get_data() hands bf16
    over as its raw bits typed float16: widened here (exact)."""
    if bf16:
        return (np.ascontiguousarray(block).view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    return np.ascontiguousarray(block, dtype=np.float32)


def is_bf16(const) -> bool:
    return const.get_element_type().get_type_name() == "bf16"


def weight_constants(model) -> list:
    """The 2-D float Constants that a MatMul or a Gather reads as its weight (through Converts),
    each once (Gemma's tied embedding and LM head are one)."""
    found = {}
    for op in model.get_ordered_ops():
        index = {"MatMul": 1, "Gather": 0}.get(op.get_type_name())
        if index is None:
            continue
        node = op.input_value(index).get_node()
        while node.get_type_name() == "Convert":
            node = node.input_value(0).get_node()
        if (node.get_type_name() == "Constant" and len(node.get_output_shape(0)) == 2
                and node.get_element_type().is_real()):
            found[node.get_name()] = node  # unique, where two constants may share a friendly name
    return list(found.values())


def decompression_chain(blocks: Blocks, name: str, shape):
    """OpenVINO's decompression chain for `blocks`, giving f16 values of `shape`."""
    import openvino as ov
    import openvino.opset13 as ops

    signed = blocks.codes.dtype == np.int8
    kind = {(4, True): ov.Type.i4, (4, False): ov.Type.u4, (8, True): ov.Type.i8, (8, False): ov.Type.u8}
    # 8-bit codes are shared with the array, not copied (a 262144 x 3584 table: 0.9 GB less at
    # once); 4-bit ones are packed by OpenVINO, so copied.
    codes = ops.constant(blocks.codes, dtype=kind[blocks.bits, signed], name=name, shared_memory=blocks.bits == 8)
    weight = ops.convert(codes, ov.Type.f16)
    if blocks.zero_point is not None:
        if blocks.zero_point.dtype == np.uint8:  # NNCF's layout: in the codes' unsigned type, converted
            zero_point = ops.convert(ops.constant(blocks.zero_point, dtype=kind[blocks.bits, False],
                                                  name=f"{name}/zero_point"), ov.Type.f16)
        else:
            zero_point = ops.constant(blocks.zero_point, name=f"{name}/zero_point")
        weight = ops.subtract(weight, zero_point, name=f"{name}/zero_point/subtract")
    weight = ops.multiply(weight, ops.constant(blocks.scale, name=f"{name}/scale"), name=f"{name}/fq_weights_0")
    return ops.reshape(weight, ops.constant(np.array(shape, np.int64)), special_zero=False)


def replace_constant(const, weight) -> None:
    """Put `weight` (f16) where `const` was: behind the Converts that read it, in their type."""
    import openvino.opset13 as ops

    for target in list(const.output(0).get_target_inputs()):
        node = target.get_node()
        if node.get_type_name() == "Convert":
            node.output(0).replace(ops.convert(weight, node.get_output_element_type(0)).output(0))
        else:
            target.replace_source_output(ops.convert(weight, const.get_element_type()).output(0))
