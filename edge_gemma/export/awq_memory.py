"""AWQ only where its copies fit: a data-aware preset drops AWQ when memory is short.

NNCF 3.4's AWQ rescales the MLP's up and down projections of every layer and keeps each
rescaled weight as a new 16-bit constant in memory until the weights are compressed, after
scale estimation: 0.19 GB a layer at gemma-2-9b-it's widths, 0.24 GB at Gemma 3 12B's. At the
end of compression those copies and the compressed model are held together: on the 10-layer
Gemma 3 12B shape that was the peak (8.2 GB), and the line through 4 and 10 layers (+0.38 GB a
layer: copies 0.24 + compressed layers 0.12) gives about 22.8 GB at 48 layers (docs/families.md).
So what AWQ needs is its copies, the compressed weights and the rest of the process (awq_need).
When that would not fit in the memory available, the export runs the preset without AWQ (scale
estimation stays: it keeps no copies) and says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from ..recipes import QuantPreset

# The rest of a data-aware export at its peak: the process before compression (about 1.3 GB at
# 9B widths), scale estimation's work on one weight, and a margin.
RESERVE = 4 << 30
# What grows with depth was 1.17x the copies and compressed layers on the 12B shape (0.38 GB a
# layer measured against 0.32 GB of both); 1.2 puts the rule at or above every measured point:
# Gemma 3 4B whole (9.1 GB; the rule asks 10.4), the 12B line at 48 layers (22.8 GB; 23.6) and
# the 9B line at 42 layers (13.1 GB; 19.1: cautious, that line's two points are the end of
# compression too but grew only 0.2 GB a layer).
PER_LAYER = 1.2
_RESCALED = re.compile(r".*mlp\.(up|down)_proj.*")  # AWQ's MatMul -> Multiply -> MatMul on Gemma
_TABLE = re.compile(r".*embed.*")  # the token (and per-layer) embeddings: int8 (tables.py)


def _weights(model):
    """The matrices of `model`'s 16-bit IR: (friendly name, number of values, bytes)."""
    for op in model.get_ordered_ops():
        if op.get_type_name() == "Constant" and len(shape := op.get_output_shape(0)) >= 2:
            yield op.get_friendly_name(), math.prod(shape), op.get_byte_size()


def awq_copy_bytes(model) -> int:
    """Bytes of the weights AWQ rescales in `model`: the MLP up and down projections."""
    return sum(nbytes for name, _, nbytes in _weights(model) if _RESCALED.match(name))


def compressed_bytes(model, bits: int = 4) -> tuple[int, int]:
    """Bytes of `model`'s weights once compressed: (the layers at `bits`, the embedding tables at 8).
    Their scales (about 2 % at group 128) are in the margin."""
    layers = tables = 0
    for name, values, _ in _weights(model):
        if _TABLE.match(name):
            tables += values
        else:
            layers += values * bits // 8
    return layers, tables


def awq_need(copies: int, layers: int, tables: int) -> int:
    """Memory a data-aware export with AWQ needs at its peak: AWQ's copies and the compressed
    layers, held together at the end of compression, the int8 tables and the reserve."""
    return int(PER_LAYER * (copies + layers)) + tables + RESERVE


def fit_awq(model, preset: QuantPreset, available: int | None) -> tuple[QuantPreset, str | None]:
    """The preset to run on `model`, and why AWQ was dropped (None: kept or not asked for)."""
    if not preset.awq or available is None:
        return preset, None
    need = awq_need(awq_copy_bytes(model), *compressed_bytes(model))  # AWQ is int4's only
    if need <= available:
        return preset, None
    return replace(preset, awq=False), (
        f"AWQ dropped: its rescaled weights and the rest of the compression need about {need / 2**30:.1f} GB, "
        f"{available / 2**30:.1f} GB is available; scale estimation still runs (export on a machine with more "
        f"free memory for AWQ)")
