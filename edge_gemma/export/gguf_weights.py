"""QUANT=gguf: the IR's weights replaced by the GGUF source's own quantized blocks.

The export converts the GGUF's dequantized checkpoint as for any level; this step then puts
each weight back in the form the file holds (gguf_blocks.py): the file's codes, group by
group, in OpenVINO's compressed-weight chain (Constant -> Convert -> [Subtract zero point] ->
Multiply scale -> Reshape), the chain NNCF writes, so the CPU, GPU and NPU plugins and
edge_gemma's weight walk read it alike. No weight is quantized again: the export is the model
llama.cpp runs from the same file.

An IR weight is matched to its GGUF tensor by name (gguf-py's own HF -> GGUF name map for the
file's architecture), then checked against it: the 16-bit IR holds the same weights rounded to
bf16, so a wrong match shows as a large difference and stops the export.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..sources.gguf_header import read_header, tensor_data
from .gguf_blocks import DECODERS, EXACT, decode
from .ir_constants import decompression_chain, float32, is_bf16, replace_constant, weight_constants

FLOAT_TYPES = ("F32", "F16", "BF16")  # left as the conversion wrote them (fp16)
# An IR weight constant's name: the PyTorch module, then what optimum-intel's export appends.
_IR_NAME = re.compile(r"(?:self\.)?(?P<module>.+?)\.(?:_openvino_orig_weight|weight_compressed|weight)")
MAX_DIFFERENCE = 0.02  # relative L2 difference between the file's values and the IR's (bf16: ~0.003)


def _name_map(fields: dict):
    import gguf

    arch_name = fields.get("general.architecture")
    arches = {name: arch for arch, name in gguf.MODEL_ARCH_NAMES.items()}
    if arch_name not in arches or f"{arch_name}.block_count" not in fields:
        raise ExportError(f"gguf-py does not know the GGUF architecture '{arch_name}'; QUANT=gguf cannot map its "
                          "tensors: export QUANT=int8 or int4")
    return gguf.get_tensor_name_map(arches[arch_name], int(fields[f"{arch_name}.block_count"]))


def keep_gguf_weights(model, path: Path) -> dict:
    """Replace `model`'s weights by the GGUF file's blocks in place; what the manifest records."""
    from gguf import GGMLQuantizationType

    header = read_header(path)
    names = _name_map(header.fields)
    tensors = header.tensors
    plan, refused, missing = [], [], []
    for const in weight_constants(model):
        match = _IR_NAME.fullmatch(const.get_friendly_name())
        gguf_name = names.get_name(match["module"]) if match else None
        tensor = tensors.get(f"{gguf_name}.weight")
        if tensor is None:
            missing.append(const.get_friendly_name())
        elif GGMLQuantizationType(tensor.type).name not in FLOAT_TYPES:
            (plan if GGMLQuantizationType(tensor.type).name in DECODERS else refused).append((const, tensor))
    if missing:
        raise ExportError(f"{path.name} has no tensor for the IR weights {', '.join(missing[:3])}"
                          f"{' and more' if len(missing) > 3 else ''}; QUANT=gguf needs every weight in the file")
    if refused:
        kinds = sorted({GGMLQuantizationType(t.type).name for _, t in refused})
        raise ExportError(f"{path.name} holds {', '.join(kinds)} tensors (e.g. {refused[0][1].name}), which QUANT=gguf "
                          f"cannot keep; it keeps {', '.join(DECODERS)}: export QUANT=int8 or int4 instead")
    kept = Counter()
    for const, tensor in plan:
        kind, shape = GGMLQuantizationType(tensor.type).name, tuple(const.get_output_shape(0))
        blocks = decode(kind, tensor_data(path, tensor), shape[1])
        if blocks.codes.shape[0] != shape[0]:
            raise ExportError(f"{tensor.name} ({kind}) is {blocks.codes.shape[0]} x {shape[1]}, the IR's "
                              f"{const.get_friendly_name()} is {shape[0]} x {shape[1]}")
        ours, theirs = blocks.values(), float32(const.get_data(), is_bf16(const))
        difference = float(np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-30))
        if difference > MAX_DIFFERENCE:
            raise ExportError(f"{tensor.name} does not hold the IR's {const.get_friendly_name()} (relative "
                              f"difference {difference:.3g}); the GGUF -> IR name map is wrong for this file")
        replace_constant(const, decompression_chain(blocks, const.get_friendly_name(), shape))
        kept[kind] += 1
    return {"file": path.name, "tensors_kept": dict(sorted(kept.items())),
            "exact_scales": sorted(set(kept) & set(EXACT)), "f16_rounded_scales": sorted(set(kept) - set(EXACT))}
