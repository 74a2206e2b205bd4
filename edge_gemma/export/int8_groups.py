"""int8 in groups: every weight as symmetric int8 codes in groups of 32 with an f16 scale each,
llama.cpp's Q8_0 format, written from any checkpoint (QUANT=int8-g32).

Why not NNCF: NNCF 3.4 compresses int8 per output channel only (its
check_user_compression_configuration rejects a group size for the INT8 modes). On the 270M,
per-channel int8 is KL 0.0047 from the reference, while the kept Q8_0 GGUF of the same weights,
run by the same kernels, is 0.00078 (docs/quality.md): the groups, not the bits, made the
difference. So this step writes the groups itself, into the compressed-weight chain NNCF
writes (ir_constants.py), and NNCF is not called.

The numbers follow ggml's quantize_row_q8_0_ref: per group d = max|w| / 127, stored as f16;
codes round(w / d). The codes are rounded against the f16 d, the scale the kernels read, so no
code is off by the scale's own rounding. A matrix whose width the group does not divide gets
one group per row (none in any Gemma: every width is a multiple of 32).
"""

from __future__ import annotations

import numpy as np

from ..errors import ExportError
from .gguf_blocks import Blocks
from .ir_constants import decompression_chain, float32, is_bf16, replace_constant, weight_constants

BLOCK_VALUES = 1 << 24  # values quantized at once: 64 MB of f32 per block (a 262144-row table in ~10)


def quantize_groups(rows: np.ndarray, group: int) -> Blocks:
    """f32 [n, columns] as int8 codes in groups of `group`, f16 scales (Q8_0's rule)."""
    n, columns = rows.shape
    grouped = rows.reshape(n, columns // group, group)
    scale = (np.abs(grouped).max(axis=-1, keepdims=True) / 127).astype(np.float16)
    step = scale.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        codes = np.where(step > 0, np.rint(grouped / step), 0)
    return Blocks(np.clip(codes, -127, 127).astype(np.int8), scale, None, 8)


def _quantize_constant(const, group: int) -> Blocks:
    """One weight constant quantized a block of rows at a time (the f32 copy stays small)."""
    data, bf16 = const.get_data(), is_bf16(const)
    rows, columns = data.shape
    codes = np.empty((rows, columns // group, group), np.int8)
    scale = np.empty((rows, columns // group, 1), np.float16)
    step = max(1, BLOCK_VALUES // columns)
    for start in range(0, rows, step):
        block = quantize_groups(float32(data[start:start + step], bf16), group)
        codes[start:start + step], scale[start:start + step] = block.codes, block.scale
    return Blocks(codes, scale, None, 8)


def write_int8_groups(model, group_size: int) -> dict:
    """Replace every weight of `model` by int8 groups in place; what the manifest records."""
    from .experts import fused_expert_weights

    if fused_expert_weights(model):
        raise ExportError("int8 in groups writes 2-D weights, and this model's MoE experts are fused 3-D ones; "
                          "pick QUANT=int8 (NNCF compresses the experts a layer at a time)")
    weights = weight_constants(model)
    if not weights:
        raise ExportError("the IR has no float MatMul or Gather weights to write as int8 groups; "
                          "was it compressed already? convert the checkpoint again")
    per_row = []
    for const in weights:
        shape = tuple(const.get_output_shape(0))
        group = group_size if shape[1] % group_size == 0 else shape[1]
        if group != group_size:
            per_row.append(const.get_friendly_name())
        replace_constant(const, decompression_chain(_quantize_constant(const, group), const.get_friendly_name(), shape))
    return {"mode": "int8_sym", "group_size": group_size, "weights": len(weights), "one_group_per_row": per_row,
            "rule": "ggml Q8_0: d = max|w| / 127 in f16, codes round(w / d)"}
