"""A GGUF file's header read in one pass: its scalar metadata and where each tensor lies.

gguf-py's GGUFReader parses every metadata field first, the 262144 token strings of a Gemma
vocabulary included: 25-40 s on 2 cores before the first tensor (gguf-py 0.19). The header is
a list of (key, type, value) records, then one (name, dims, type, offset) record per tensor
(GGUF v3, ggml's docs/gguf.md), so this walks it, skipping arrays, and memory-maps the data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError

# Metadata value types and their sizes (gguf-py's GGUFValueType); 8 is a string, 9 an array.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]  # ggml's order: shape[0] is a row's length
    type: int  # ggml's type number (gguf.GGMLQuantizationType)
    offset: int  # from the start of the file


@dataclass(frozen=True)
class Header:
    fields: dict  # key -> value, for scalar and string fields (arrays are skipped)
    tensors: dict  # name -> Tensor


def read_header(path: Path, stop_at: str | None = None) -> Header:
    """The header of the GGUF file at `path`; `stop_at`: return as soon as that key is read
    (no tensors then)."""
    def fail(why: str):
        raise SourceError(f"{path} is not a readable GGUF file ({why}); pass a .gguf model file")

    fields, tensors = {}, {}
    try:
        with open(path, "rb") as f:
            def read(n: int) -> bytes:
                data = f.read(n)
                if len(data) != n:
                    fail("it ends inside its header")
                return data

            def unpack(fmt: str):
                return struct.unpack(fmt, read(struct.calcsize(fmt)))[0]

            def string() -> str:
                return read(unpack("<Q")).decode("utf-8", "replace")

            def value(kind: int):
                if kind == 8:
                    return string()
                if kind == 9:
                    inner, count = unpack("<I"), unpack("<Q")
                    if inner in _SCALARS:
                        f.seek(struct.calcsize(_SCALARS[inner]) * count, 1)
                    else:
                        for _ in range(count):
                            value(inner)
                    return None
                if kind not in _SCALARS:
                    fail(f"unknown metadata type {kind}")
                return unpack(_SCALARS[kind])

            if read(4) != b"GGUF":
                fail("no GGUF magic")
            _version, n_tensors, n_fields = struct.unpack("<IQQ", read(20))
            for _ in range(n_fields):
                key, kind = string(), unpack("<I")
                found = value(kind)
                if found is not None:
                    fields[key] = found
                if key == stop_at:
                    return Header(fields, {})
            infos = []
            for _ in range(n_tensors):
                name, dims = string(), unpack("<I")
                shape = tuple(unpack("<Q") for _ in range(dims))
                infos.append((name, shape, unpack("<I"), unpack("<Q")))
            alignment = fields.get("general.alignment", 32)
            start = -(-f.tell() // alignment) * alignment
            tensors = {name: Tensor(name, shape, kind, start + offset) for name, shape, kind, offset in infos}
    except OSError as exc:
        fail(exc.strerror or str(exc))
    return Header(fields, tensors)


def gguf_architecture(path: Path) -> str:
    """general.architecture of a GGUF file (usually its first key)."""
    arch = read_header(path, stop_at="general.architecture").fields.get("general.architecture")
    if not isinstance(arch, str):
        raise SourceError(f"{path} has no general.architecture; pass a GGUF file of a Gemma model")
    return arch


def tensor_data(path: Path, tensor: Tensor):
    """The tensor's bytes as a read-only memory map: uint8 [rows, bytes per row]."""
    import numpy as np
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    block, size = GGML_QUANT_SIZES[GGMLQuantizationType(tensor.type)]
    rows = int(np.prod(tensor.shape[1:], dtype=np.int64))
    row_bytes = tensor.shape[0] // block * size
    return np.memmap(path, np.uint8, "r", tensor.offset, (rows, row_bytes))
