"""A GGUF file re-written with its matrices in another type, metadata copied (gguf-py 0.19).

Two uses: the F16 GGUF that llama.cpp's own quantizer starts from (the sweep's llama.cpp
rows), and small Q8_0 / Q4_0 files for the tests of QUANT=gguf. gguf-py quantizes Q8_0,
Q4_0, Q4_1, Q5_0 and Q5_1 in numpy, with the rounding of ggml's reference quantizer
(quants.py: "bit-exact same results as reference implementation in ggml-quants.c" for Q8_0);
the K- and IQ-types only llama.cpp writes (`llama_model_quantize`).

Every tensor of 2 or more dimensions is dequantized to f32 and written in the new type; the
1-D ones (norms) stay as they are. The file is written beside its target and renamed at the
end, so an interrupted write leaves no half a file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SourceError
from .gguf_header import read_header, tensor_data

WRITES = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1")
# general.file_type for each (llama.cpp's LlamaFileType: what a reader shows as the file's type)
_FILE_TYPES = {"F32": "ALL_F32", "F16": "MOSTLY_F16", "BF16": "MOSTLY_BF16", "Q8_0": "MOSTLY_Q8_0",
               "Q4_0": "MOSTLY_Q4_0", "Q4_1": "MOSTLY_Q4_1", "Q5_0": "MOSTLY_Q5_0", "Q5_1": "MOSTLY_Q5_1"}


def requantize(src: Path, dst: Path, kind: str, layers: int | None = None) -> Path:
    """`src` with every matrix in `kind` (one of WRITES) into `dst`; `layers`: keep the first
    N transformer blocks only (a small model for a test)."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize, quantize

    if kind not in WRITES:
        raise SourceError(f"gguf-py writes {', '.join(WRITES)}, not {kind}; llama.cpp's quantizer makes the others")
    # The header in one pass (gguf_header.py): gguf-py's GGUFReader takes 10-40 s on the
    # 262144-token vocabulary before the first tensor.
    header = read_header(src, arrays=True)
    arch = header.fields["general.architecture"]
    block_count = f"{arch}.block_count"
    qtype = gguf.GGMLQuantizationType[kind]
    tmp = dst.with_name(f".{dst.name}.partial")
    writer = gguf.GGUFWriter(tmp, arch)
    for name, value in header.fields.items():
        if name == "general.architecture":
            continue  # the writer writes these itself
        if name == block_count and layers is not None:
            value = min(layers, value)
        elif name == "general.file_type":
            value = int(gguf.LlamaFileType[_FILE_TYPES[kind]])
        value_type, sub_type = header.types[name]
        writer.add_key_value(name, value, gguf.GGUFValueType(value_type),
                             sub_type=None if sub_type is None else gguf.GGUFValueType(sub_type))

    def kept(name: str) -> bool:
        return layers is None or not name.startswith("blk.") or int(name.split(".")[1]) < layers

    # Held in memory until written (gguf-py's writer wants every tensor's size first): twice
    # the model at f16, fine for the models this is for (the 270M, test models).
    for tensor in (t for t in header.tensors.values() if kept(t.name)):
        data = tensor_data(src, tensor)
        tensor_type = gguf.GGMLQuantizationType(tensor.type)
        if len(tensor.shape) < 2:  # norms: as the file holds them
            float_type = {gguf.GGMLQuantizationType.F32: np.float32, gguf.GGMLQuantizationType.F16: np.float16}
            writer.add_tensor(tensor.name, np.asarray(data).view(float_type[tensor_type]).reshape(tensor.shape))
            continue
        values = dequantize(data, tensor_type).reshape(tuple(reversed(tensor.shape)))
        if kind in ("F32", "F16"):
            writer.add_tensor(tensor.name, values.astype(np.float32 if kind == "F32" else np.float16))
        else:
            writer.add_tensor(tensor.name, quantize(values, qtype), raw_dtype=qtype)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst
