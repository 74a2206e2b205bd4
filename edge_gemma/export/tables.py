"""Big embedding tables compressed a block of rows at a time, not whole in f32 by NNCF.

NNCF 3.4 compresses a weight whole, in f32, with temporaries beside it: on a 1.25 GiB fp16
table it took 5.8 GiB more (measured, AMD EPYC, 2026-12-03). Two kinds of table are that big:
- the E-models' per-layer input embeddings (Gemma 3n, Gemma 4 E2B/E4B: 262144 x layers x 256,
  2.0-2.8 B values), read by a Gather only: the E4B table (5.3 GiB fp16) alone would need
  about 24 GiB;
- every Gemma's token embedding, tied to the LM head (one matrix read by the Gather and by the
  head's MatMul with transpose_b): 262144 x 3584 at 9B (1.9 GB fp16), the most of a
  gemma-2-9b-it int4 export's peak (docs/quality.md).
Both are quantized along their rows (a Gather's row, the head's reduction axis), so
quantizing a block of rows at a time with NNCF's own quantizer gives the very bits NNCF writes
(tests/export/test_tables.py) in a block's memory. The table is then already compressed when
NNCF runs, and NNCF leaves it.

The table gets the precision NNCF would give it: the preset's `head` when its pattern names the
table (compression.HEAD matches `embed_tokens_per_layer` too), else the preset's int8 mode, or
its `backup` for int4 (NNCF keeps embeddings in backup precision unless `all_layers`). Presets
that put it in int4 (`all_layers`, an int4 `head`), leave it out (`uncompressed`) or in fp16
(`backup: none`) go to NNCF as they are.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from ..recipes import QuantPreset
from .compression import HEAD
from .ir_constants import float32

MIN_BYTES = 256 << 20  # tables this big are compressed here (the 270M's whole model is 0.5 GB)
BLOCK_ROWS = 8192  # 8192 x 10752 (the E4B table's width) is 88 M values: 0.35 GB in f32
# The export keeps the checkpoint's bf16 for every table (optimum_gemma.py, change 6).
_FLOAT = {"f16", "f32", "bf16"}


def table_mode(preset: QuantPreset, name: str = "") -> str | None:
    """NNCF's mode for the Gather-only table `name` under `preset`, when it is int8; None otherwise."""
    if preset.head and re.match(HEAD, name):  # the head pass compresses it
        return preset.head if preset.head.startswith("int8") else None
    if preset.weights == "int8":
        return preset.mode
    if preset.weights == "int4" and not preset.all_layers and preset.backup != "none":
        return preset.backup
    return None


def _uses(const):
    """(node, input index) of every use of the constant, through Converts, the Converts too."""
    outputs = [const.output(0)]
    while outputs:
        for target in outputs.pop().get_target_inputs():
            node = target.get_node()
            yield node, target.get_index()
            if node.get_type_name() == "Convert":
                outputs.append(node.output(0))


def _row_reader(node, index: int) -> bool:
    """A use that reads the table by rows: a Gather's table or a MatMul's transposed B (the
    tied LM head), or a Convert on the way to one."""
    kind = node.get_type_name()
    return (kind == "Convert" or kind == "Gather" and index == 0
            or kind == "MatMul" and index == 1 and node.get_attributes().get("transpose_b", False))


def _tied(const) -> bool:
    return any(node.get_type_name() == "MatMul" for node, _ in _uses(const))


def _names(const) -> list[str]:
    """The constant's name and its readers': NNCF's ignored scope matches either (nncf 3.4)."""
    return [const.get_friendly_name(), *(node.get_friendly_name() for node, _ in _uses(const))]


def _float_matrices(model) -> list:
    """The float Constants of `model` with 2 or more dimensions."""
    return [op for op in model.get_ordered_ops()
            if op.get_type_name() == "Constant" and op.get_element_type().get_type_name() in _FLOAT
            and len(op.get_output_shape(0)) >= 2]


def _gather_tables(model) -> list:
    """The 2-D float Constants of `model` that only Gathers and transposed MatMuls read, and
    that at least one Gather reads (an embedding)."""
    return [op for op in _float_matrices(model)
            if len(op.get_output_shape(0)) == 2 and all(_row_reader(n, i) for n, i in _uses(op))
            and any(n.get_type_name() == "Gather" for n, _ in _uses(op))]


def _embeddings(model) -> int:
    """How many float Constants of 2 or more dimensions a Gather reads as its table: what
    NNCF counts as embeddings."""
    return sum(any(n.get_type_name() == "Gather" and i == 0 for n, i in _uses(op)) for op in _float_matrices(model))


def big_tables(model, min_bytes: int | None = None) -> list:
    """The embedding tables of `model` (Gather-only, or tied to the LM head) over `min_bytes`
    (MIN_BYTES)."""
    min_bytes = MIN_BYTES if min_bytes is None else min_bytes
    return [op for op in _gather_tables(model) if op.get_byte_size() >= min_bytes]


def quantize_rows(table: np.ndarray, mode: str, block_rows: int = BLOCK_ROWS, bf16: bool = False):
    """int8 codes, f16 scales and (asym) u8 zero points of a 2-D table, one scale per row,
    computed by NNCF's quantizer a block of rows at a time; `bf16`: the table holds bf16 bits."""
    import nncf
    from nncf.quantization.algorithms.weight_compression.config import WeightCompressionConfig
    from nncf.quantization.algorithms.weight_compression.weight_lowering import do_integer_quantization
    from nncf.tensor import Tensor

    config = WeightCompressionConfig(mode=nncf.CompressWeightsMode(mode))
    asym = config.is_asym_mode
    codes = np.empty(table.shape, np.uint8 if asym else np.int8)
    scales = np.empty((table.shape[0], 1), np.float16)
    zero_points = np.empty((table.shape[0], 1), np.uint8) if asym else None
    for start in range(0, table.shape[0], block_rows):
        rows = slice(start, start + block_rows)
        block = do_integer_quantization(Tensor(float32(table[rows], bf16)), config, reduction_axes=(1,))
        # Copied at once: NNCF's OpenVINO-compiled quantizer (nncf 3.4, optimized_functions)
        # returns views of output buffers it reuses on the next call.
        codes[rows] = block.tensor.as_numpy_tensor().data
        scales[rows] = block.scale.as_numpy_tensor().data
        if asym:
            zero_points[rows] = block.zero_point.as_numpy_tensor().data
    return codes, scales, zero_points


def _compressible(const, preset: QuantPreset) -> str | None:
    mode = table_mode(preset, const.get_friendly_name())
    if mode is None or preset.uncompressed and any(re.match(preset.uncompressed, n) for n in _names(const)):
        return None
    return mode


def compress_tables(model, preset: QuantPreset, min_bytes: int | None = None) -> tuple[list[str], QuantPreset]:
    """Compress `model`'s big embedding tables in place, as NNCF would: their names, and the
    preset NNCF must then run to give the rest the bits it would have given them.

    That preset differs in one case: an int4 preset without all_layers whose tied LM head was
    compressed here gets all_layers. NNCF keeps the last MatMul it sees in backup precision
    unless that MatMul shares its weight with an earlier node (nncf 3.4,
    WeightCompression._get_ratio_defining_params / is_last_layer_skipped): a tied head is, so
    the last decoder MatMul goes int4. With the head gone from its view, the last decoder
    MatMul would be the one kept in backup; all_layers keeps it int4, and changes nothing else
    while no other embedding is left to NNCF (then the tied table is left to NNCF too)."""
    import openvino as ov
    import openvino.opset13 as ops

    tables = [(const, mode) for const in big_tables(model, min_bytes) if (mode := _compressible(const, preset))]
    moves_last_layer = preset.weights == "int4" and not preset.all_layers
    if moves_last_layer and len(tables) < _embeddings(model):
        tables = [(const, mode) for const, mode in tables if not _tied(const)]
    tied = any(_tied(const) for const, _ in tables)
    done = []
    for const, mode in tables:
        name = const.get_friendly_name()
        table = const.get_data()  # a view of the (memory-mapped) weights
        codes, scales, zero_points = quantize_rows(table, mode, bf16=const.get_element_type() == ov.Type.bf16)
        # NNCF's own decompression chain for a table (Constant -> Convert -> [Subtract zero
        # point] -> Multiply scale), so runtimes and edge_gemma's weight walk read it alike.
        weight = ops.convert(ops.constant(codes, name=name, shared_memory=True), ov.Type.f16)
        if zero_points is not None:
            zero_point = ops.convert(ops.constant(zero_points, name=f"{name}/zero_point"), ov.Type.f16)
            weight = ops.subtract(weight, zero_point, name=f"{name}/zero_point/subtract")
        weight = ops.multiply(weight, ops.constant(scales, name=f"{name}/scale"), name=f"{name}/fq_weights_0")
        # The chain ends in f16. A table that every reader converts anyway (the export's bf16
        # tables: Convert to f32, then Gather / MatMul) is left so: a Convert to bf16 would
        # round each dequantized value to 8 bits of mantissa.
        readers = [target.get_node().get_type_name() for target in const.output(0).get_target_inputs()]
        if const.get_element_type() != ov.Type.f16 and set(readers) != {"Convert"}:
            weight = ops.convert(weight, const.get_element_type())
        const.output(0).replace(weight.output(0))
        done.append(name)
    return done, replace(preset, all_layers=True) if tied and moves_last_layer else preset
