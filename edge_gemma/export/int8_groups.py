"""int8 in groups: every weight as symmetric int8 codes in groups of 32 with an f16 scale each,
llama.cpp's Q8_0 format, written from any checkpoint (QUANT=int8-g32).

Why not NNCF: NNCF 3.4 compresses int8 per output channel only (its
check_user_compression_configuration rejects a group size for the INT8 modes). On the 270M,
per-channel int8 is KL 0.0047 from the reference and these groups 0.0014, against llama.cpp's
own Q8_0 at 0.0028 (docs/quality.md): the groups, not the bits, make the difference. So this
step writes the groups itself, into the compressed-weight chain NNCF writes (ir_constants.py),
and NNCF is not called.

The numbers follow ggml's quantize_row_q8_0_ref: per group d = max|w| / 127, stored as f16 (the
same bits as ggml's); codes round(w / d), halves away from zero as roundf. One difference: the
codes are rounded against the f16 d, the scale the kernels read, where ggml divides by the f32
d. A code can then differ from ggml's by one, and by more in a group whose f16 d is subnormal
(max|w| below 2^-14 * 127); ours is the closer to w in both. A matrix narrower than the group
(Gemma 3n's 4-wide AltUp matrices) is one group per row; a wider one the group does not
divide is an error naming it.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExportError
from .gguf_blocks import Blocks
from .ir_constants import decompression_chain, float32, is_bf16, replace_constant, weight_constants

BLOCK_VALUES = 1 << 24  # values quantized at once: 64 MB of f32 per block (the 270M's 262144 x 640 table in 10)


def quantize_groups(rows: np.ndarray, group: int) -> Blocks:
    """f32 [n, columns] as int8 codes in groups of `group`, f16 scales (Q8_0's rule)."""
    n, columns = rows.shape
    grouped = rows.reshape(n, columns // group, group)
    scale = (np.abs(grouped).max(axis=-1, keepdims=True) / 127).astype(np.float16)
    step = scale.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(step > 0, grouped / step, 0)
    codes = np.sign(ratio) * np.floor(np.abs(ratio) + 0.5)  # roundf's halves away from zero, as ggml
    return Blocks(np.clip(codes, -127, 127).astype(np.int8), scale, None, 8)


RULE = "ggml Q8_0's: d = max|w| / 127 in f16, codes round(w / d) against that f16 d"


def check_widths(widths: list[tuple[str, int]], group_size: int) -> None:
    """Every (weight name, row width) is split evenly by the group, or narrower than it (then one
    group per row); the first that is not is a one-line error."""
    uneven = [(name, width) for name, width in widths if width % group_size and width > group_size]
    if uneven:
        name, width = uneven[0]
        raise ExportError(f"{name} has rows of {width}, which groups of {group_size} do not divide; "
                          "pick QUANT=int8 (per channel)")


def quantize_matrix(data: np.ndarray, group: int, bf16: bool = False) -> Blocks:
    """A whole [rows, columns] matrix (f32, f16, or bf16 bits read as float16) as int8 groups,
    a block of rows at a time, so the f32 copy stays small."""
    rows, columns = data.shape
    codes = np.empty((rows, columns // group, group), np.int8)
    scale = np.empty((rows, columns // group, 1), np.float16)
    step = max(1, BLOCK_VALUES // columns)
    for start in range(0, rows, step):
        block = quantize_groups(float32(data[start:start + step], bf16), group)
        codes[start:start + step], scale[start:start + step] = block.codes, block.scale
    return Blocks(codes, scale, None, 8)


def _rows_are_outputs(const) -> bool:
    """Every MatMul reading `const` (through Converts) multiplies by its transpose: its rows are
    output channels, so a group runs along one output's inputs (optimum-intel's Linear weights).
    A Gather's table is read by rows anyway."""
    def readers(node):
        for target in node.output(0).get_target_inputs():
            reader = target.get_node()
            if reader.get_type_name() == "Convert":
                yield from readers(reader)
            else:
                yield reader, target.get_index()

    return all(reader.get_attributes().get("transpose_b", False)
               for reader, index in readers(const) if reader.get_type_name() == "MatMul" and index == 1)


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
    untransposed = [c.get_friendly_name() for c in weights if not _rows_are_outputs(c)]
    if untransposed:
        raise ExportError(f"a MatMul reads {untransposed[0]} as [inputs, outputs] (not an optimum-intel IR), and "
                          "int8 groups run along each output's inputs: pick QUANT=int8")
    check_widths([(c.get_friendly_name(), c.get_output_shape(0)[1]) for c in weights], group_size)
    per_row = []
    for const in weights:
        shape = tuple(const.get_output_shape(0))
        group = min(group_size, shape[1])
        if group != group_size:
            per_row.append(const.get_friendly_name())
        blocks = quantize_matrix(const.get_data(), group, is_bf16(const))
        replace_constant(const, decompression_chain(blocks, const.get_friendly_name(), shape))
    return {"mode": "int8_sym", "group_size": group_size, "weights": len(weights), "one_group_per_row": per_row,
            "rule": RULE}
