"""A GGUF file's header read in one pass: its scalar metadata and where each tensor lies.

gguf-py's GGUFReader parses every metadata field first, the 262144 token strings of a Gemma
vocabulary included: 25-40 s on 2 cores before the first tensor (gguf-py 0.19). The header is
a list of (key, type, value) records, then one (name, dims, type, offset) record per tensor
(GGUF v3, ggml's docs/gguf.md), so this walks it and memory-maps the data. Arrays are
skipped unless asked for; then numbers come in one numpy read and the 262144 strings in
well under a second.
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
    fields: dict  # key -> value: scalars and strings; arrays as lists when read with arrays=True
    tensors: dict  # name -> Tensor
    types: dict  # key -> (value type, the element type of an array or None), as gguf-py numbers them


def read_header(path: Path, stop_at: str | None = None, arrays: bool = False) -> Header:
    """The header of the GGUF file at `path`; `stop_at`: return as soon as that key is read
    (no tensors then); `arrays`: read array fields too (else they are left out of `fields`)."""
    import numpy as np

    def fail(why: str):
        raise SourceError(f"{path} is not a readable GGUF file ({why}); pass a .gguf model file")

    fields, tensors, types = {}, {}, {}
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
                    return array(unpack("<I"))[0]
                if kind not in _SCALARS:
                    fail(f"unknown metadata type {kind}")
                return unpack(_SCALARS[kind])

            def array(inner: int):
                """(its items, or None when not asked for; the element type)."""
                count = unpack("<Q")
                if inner in _SCALARS:
                    size = struct.calcsize(_SCALARS[inner]) * count
                    if not arrays:
                        f.seek(size, 1)
                        return None, inner
                    return np.frombuffer(read(size), _SCALARS[inner]).tolist(), inner
                items = [value(inner) for _ in range(count)]
                return (items if arrays else None), inner

            if read(4) != b"GGUF":
                fail("no GGUF magic")
            _version, n_tensors, n_fields = struct.unpack("<IQQ", read(20))
            for _ in range(n_fields):
                key, kind = string(), unpack("<I")
                found, inner = array(unpack("<I")) if kind == 9 else (value(kind), None)
                types[key] = (kind, inner)
                if found is not None:
                    fields[key] = found
                if key == stop_at:
                    return Header(fields, {}, types)
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
    return Header(fields, tensors, types)


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


def matrix_types(path: Path):
    """How many matrices (2-D tensors) the file holds of each type: Counter of type names."""
    from collections import Counter

    from gguf.constants import GGMLQuantizationType

    tensors = read_header(path).tensors.values()
    return Counter(GGMLQuantizationType(t.type).name for t in tensors if len(t.shape) == 2)
