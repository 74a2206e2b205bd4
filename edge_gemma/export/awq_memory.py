"""AWQ only where its copies fit: a data-aware preset drops AWQ when memory is short.

NNCF 3.4's AWQ rescales the MLP's up and down projections of every layer and keeps each
rescaled weight as a new 16-bit constant in memory until the weights are compressed, after
scale estimation: 0.19 GB a layer at gemma-2-9b-it's widths, 0.24 GB at Gemma 3 12B's, on top of
what the rest of a data-aware export holds at its peak (about 4.5 GB at 9B widths: the process,
the int8 embedding, scale estimation's work on one weight; docs/quality.md, measured at 4 and
10 layers). A 42-layer 9B then needs about 13 GB and a 48-layer 12B about 16 GB: more than a
16 GB laptop has free. When the copies would not fit in the memory available, the export runs
the preset without AWQ (scale estimation stays: it keeps no copies) and says so.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..recipes import QuantPreset

# What a data-aware export holds at its peak besides AWQ's copies, at 9B widths (measured
# 4.5 GB in all: about 1.5 GB of it is the process before compression, already in use), with
# a margin for wider models.
RESERVE = 4 << 30
_RESCALED = re.compile(r".*mlp\.(up|down)_proj.*")  # AWQ's MatMul -> Multiply -> MatMul on Gemma


def awq_copy_bytes(model) -> int:
    """Bytes of the weights AWQ rescales in `model` (its 16-bit IR): the MLP up and down projections."""
    return sum(op.get_byte_size() for op in model.get_ordered_ops()
               if op.get_type_name() == "Constant" and _RESCALED.match(op.get_friendly_name())
               and len(op.get_output_shape(0)) >= 2)


def fit_awq(model, preset: QuantPreset, available: int | None) -> tuple[QuantPreset, str | None]:
    """The preset to run on `model`, and why AWQ was dropped (None: kept or not asked for)."""
    if not preset.awq or available is None:
        return preset, None
    need = awq_copy_bytes(model) + RESERVE
    if need <= available:
        return preset, None
    return replace(preset, awq=False), (
        f"AWQ dropped: its rescaled weights and the rest of the compression need about {need / 2**30:.1f} GB, "
        f"{available / 2**30:.1f} GB is available; scale estimation still runs (export on a machine with more "
        f"free memory for AWQ)")
