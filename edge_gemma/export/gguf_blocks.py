"""A GGUF tensor's quantized blocks, read into OpenVINO's compressed-weight form unchanged.

OpenVINO stores a compressed weight as integer codes in groups, a scale per group and, for
asymmetric formats, a zero point per group: value = scale * (code - zero_point). llama.cpp's
block types map onto that form with the file's own numbers (ggml-quants.c; the layouts as
gguf-py 0.19's quants.py decodes them):

    Q8_0  d * q                 int8 codes, group 32, d as the f16 scale: exact
    Q4_0  d * (q - 8)           int4 codes (q - 8), group 32, f16 d: exact
    Q5_0  d * (q - 16)          int8 codes (q - 16), group 32, f16 d: exact
    Q4_1  d * q + m             uint4 codes, group 32, scale d, zero point -m / d
    Q5_1  d * q + m             uint8 codes, group 32, scale d, zero point -m / d
    Q6_K  d * sc_j * (q - 32)   int8 codes, group 16, scale d * sc_j
    Q4_K  d*sc_j * q - dmin*m_j uint4 codes, group 32, scale d * sc_j, zero point dmin*m_j / (d*sc_j)
    Q5_K  the same, 5 bits      uint8 codes

The codes are always the file's. Scales are f16, as OpenVINO's CPU kernels read them: for
the 0-types they are the file's own f16 numbers; a K-quant's scale is a product of two of the
file's numbers (d * sc_j), rounded to f16 (a relative change below 2^-11 of the group's scale),
and its zero points are f16 offsets, not integers (docs/quality.md has what each choice
measured). Any other type (IQ*, Q2_K, Q3_K, ...) is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QK_K = 256  # a K-quant's super-block


@dataclass(frozen=True)
class Blocks:
    """One weight as OpenVINO stores it: codes [rows, groups, group], scale [rows, groups, 1]."""

    codes: np.ndarray  # int8 (i8 and i4 codes) or uint8 (u8 and u4 codes)
    scale: np.ndarray  # float16
    zero_point: np.ndarray | None  # float16; uint8 stored in the codes' type (NNCF's); None: symmetric
    bits: int  # 4 or 8: the OpenVINO element type of the codes (i4/u4, i8/u8)

    def values(self) -> np.ndarray:
        """The weight as float32 [rows, columns], as OpenVINO's decompression computes it."""
        codes = self.codes.astype(np.float32)
        if self.zero_point is not None:
            codes = codes - self.zero_point.astype(np.float32)
        return (codes * self.scale.astype(np.float32)).reshape(self.codes.shape[0], -1)


def _f16(raw: np.ndarray) -> np.ndarray:
    """uint8 pairs [..., 2] as float16 [..., 1]."""
    return np.ascontiguousarray(raw).view(np.float16)


def _nibbles(qs: np.ndarray, half: int) -> np.ndarray:
    """[n, k, half] bytes -> [n, k, 2 * half]: the low nibbles, then the high ones (ggml's order)."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def _q8_0(b):
    return b[:, 2:].view(np.int8), _f16(b[:, :2]), None, 8


def _q4_0(b):
    return _nibbles(b[:, 2:], 16).astype(np.int8) - 8, _f16(b[:, :2]), None, 4


def _q5_0(b):
    high = (b[:, 2:6].copy().view(np.uint32) >> np.arange(32, dtype=np.uint32)) & 1
    return (_nibbles(b[:, 6:], 16) | (high.astype(np.uint8) << 4)).astype(np.int8) - 16, _f16(b[:, :2]), None, 8


def _q4_1(b):
    return _nibbles(b[:, 4:], 16), _f16(b[:, :2]).astype(np.float32), _f16(b[:, 2:4]).astype(np.float32), 4


def _q5_1(b):
    high = (b[:, 4:8].copy().view(np.uint32) >> np.arange(32, dtype=np.uint32)) & 1
    codes = _nibbles(b[:, 8:], 16) | (high.astype(np.uint8) << 4)
    return codes, _f16(b[:, :2]).astype(np.float32), _f16(b[:, 2:4]).astype(np.float32), 8


def _k_scales(b):
    """A Q4_K / Q5_K super-block's 8 sub-blocks: value = scale * q + offset, (scale, offset) in f32."""
    from gguf.quants import Q4_K

    d, dmin = _f16(b[:, :2]).astype(np.float32), _f16(b[:, 2:4]).astype(np.float32)
    sc, m = Q4_K.get_scale_min(b[:, 4:16])
    return (d * sc.astype(np.float32)).reshape(-1, 1), (-dmin * m.astype(np.float32)).reshape(-1, 1)


def _q4_k(b):
    n = b.shape[0]
    q = (b[:, 16:].reshape(n, 4, 1, 32) >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)) & 0x0F
    return q.reshape(n * 8, 32), *_k_scales(b), 4


def _q5_k(b):
    n = b.shape[0]
    low = (b[:, 48:].reshape(n, 4, 1, 32) >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)) & 0x0F
    high = (b[:, 16:48].reshape(n, 1, 32) >> np.arange(8, dtype=np.uint8).reshape(1, 8, 1)) & 1
    return (low.reshape(n, 8, 32) | (high << 4)).reshape(n * 8, 32), *_k_scales(b), 8


def _q6_k(b):
    n = b.shape[0]
    ql, qh, sc, d = b[:, :128], b[:, 128:192], b[:, 192:208].view(np.int8), _f16(b[:, 208:210])
    low = (ql.reshape(n, 2, 1, 64) >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)) & 0x0F
    high = (qh.reshape(n, 2, 1, 32) >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)) & 0x03
    # gguf-py's Q6_K: per half of the super-block, ql's nibbles and qh's bit pairs give 4 runs of 32.
    q = (low.reshape(n, 2, 4, 32) | (high << 4)).astype(np.int8) - 32
    return q.reshape(n * 16, 16), (d.astype(np.float32) * sc.astype(np.float32)).reshape(-1, 1), None, 8


def _zero_points(codes: np.ndarray, scale: np.ndarray, offset: np.ndarray):
    """value = scale * q + offset as OpenVINO's scale * (q - zero_point): zero_point = -offset /
    scale, in f16. A group whose scale is 0 holds `offset` whatever its codes: it becomes codes
    0, scale `offset`, zero point -1 (the same values)."""
    flat = scale == 0
    if flat.any():
        codes = np.where(flat, 0, codes).astype(codes.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        zero_point = np.where(flat, -1, -offset / scale)
    return codes, np.where(flat, offset, scale), zero_point.astype(np.float16)


# type name -> (decoder of [n, type_size] uint8 blocks, values per block, group size)
DECODERS = {
    "Q8_0": (_q8_0, 32, 32), "Q4_0": (_q4_0, 32, 32), "Q5_0": (_q5_0, 32, 32),
    "Q4_1": (_q4_1, 32, 32), "Q5_1": (_q5_1, 32, 32),
    "Q4_K": (_q4_k, QK_K, 32), "Q5_K": (_q5_k, QK_K, 32), "Q6_K": (_q6_k, QK_K, 16),
}
# The types kept with the file's own scales (exactly the values llama.cpp computes with).
EXACT = ("Q8_0", "Q4_0", "Q5_0")


def decode(kind: str, data: np.ndarray, columns: int) -> Blocks:
    """The blocks of a GGUF tensor of type `kind` (data: gguf-py's uint8 [rows, bytes per row])
    holding rows of `columns` values."""
    decoder, per_block, group = DECODERS[kind]
    rows = data.shape[0]
    blocks = np.ascontiguousarray(data).reshape(rows * (columns // per_block), -1)
    codes, scale, offset, bits = decoder(blocks)
    zero_point = None
    if offset is not None:
        codes, scale, zero_point = _zero_points(codes, scale, offset)
    scale = scale.astype(np.float16)
    shape = (rows, columns // group)
    return Blocks(np.ascontiguousarray(codes).reshape(*shape, group), scale.reshape(*shape, 1),
                  None if zero_point is None else zero_point.reshape(*shape, 1), bits)
