"""Experiment (issue 19 part 3): a two-stage LM head, measured and rejected (docs/quality.md).

Gemma's tied 262144-row head is most of the bytes read per decoded token on the small
models. Here the export's int8 head is replaced in the IR by two stages:

    coarse = hidden @ C^T             C: a 4-bit copy of the int8 table (u4 with f16 scale and
                                      zero point, or i4 with `sym`), read whole every token
    top    = TopK(coarse, k)          the k best candidates by the coarse score
    exact  = last . T[top]            T: the export's own int8 rows, gathered (k rows read)
    logits = coarse + (exact - coarse) at the top k (ScatterElementsUpdate over zeros)

So the runtime samples from, and `eval` scores, the same logits: the k best are exact, the
rest carry the coarse copy's error, which reaches the distribution through the softmax's sum.
`last` is as many last positions of `hidden` as `coarse` has: openvino-genai slices the
coarse MatMul's input to the last position (Result <- Add <- MatMul is one of the patterns of
`find_llm_matmul`, src/cpp/src/utils.cpp, 2026.x), `eval` keeps them all. Paged attention
(continuous batching) gathers that input on axis 0 instead, which this does not follow.

    python -m edge_gemma.benchmark.two_stage_head EXPORT_DIR OUT_DIR [--k 1024] [--group 32] [--sym]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..export.gguf_blocks import Blocks
from ..export.ir_constants import decompression_chain

MODEL_FILE = "openvino_model.xml"


def _int8_table(weight):
    """(codes, zero point or None, scale) of the u8/i8 chain behind the head MatMul's weight input."""
    node, zero_point, scale = weight.get_node(), None, None
    while node.get_type_name() in ("Convert", "Multiply", "Subtract", "Reshape"):
        if node.get_type_name() in ("Multiply", "Subtract"):
            other = node.input_value(1).get_node()
            while other.get_type_name() == "Convert":
                other = other.input_value(0).get_node()
            if node.get_type_name() == "Multiply":
                scale = other.get_data().astype(np.float32)
            else:
                zero_point = other.get_data().astype(np.float32)
        node = node.input_value(0).get_node()
    kind = node.get_element_type().get_type_name() if node.get_type_name() == "Constant" else None
    if kind not in ("u8", "i8") or scale is None:
        raise ExportError("the two-stage head rewrites an int8 head (per-row u8/i8 codes and scales); "
                          f"this export's head weight is {kind or node.get_type_name()}")
    return node.get_data(), zero_point, scale


def coarse_blocks(table: np.ndarray, group: int, sym: bool = False) -> Blocks:
    """A u4 (asymmetric) or i4 (`sym`) copy of `table` [rows, columns], groups of `group` columns (0: per row)."""
    rows, columns = table.shape
    g = group or columns
    grouped = table.reshape(rows, columns // g, g)
    if sym:
        step = np.abs(grouped).max(-1, keepdims=True) / 7
        step[step == 0] = 1.0
        codes = np.clip(np.round(grouped / step), -8, 7).astype(np.int8)
        return Blocks(codes=codes, scale=step.astype(np.float16), zero_point=None, bits=4)
    low, high = grouped.min(-1, keepdims=True), grouped.max(-1, keepdims=True)
    step = (high - low) / 15
    step[step == 0] = 1.0
    codes = np.clip(np.round((grouped - low) / step), 0, 15).astype(np.uint8)
    return Blocks(codes=codes, scale=step.astype(np.float16), zero_point=(-low / step).astype(np.float16), bits=4)


def rewrite(model, k: int, group: int, sym: bool = False) -> dict:
    """Replace the logits MatMul of `model` (in place) by the two stages; return their sizes."""
    import openvino as ov
    import openvino.opset13 as ops

    result = model.output("logits").get_node()
    matmul = result.input_value(0).get_node()
    if matmul.get_type_name() != "MatMul":
        raise ExportError(f"the logits come from a {matmul.get_type_name()}, not the head's MatMul")
    hidden, table = matmul.input_value(0), matmul.input_value(1)
    codes, zero_point, scale = _int8_table(table)
    # Per-row (NNCF's int8) or grouped (a GGUF's Q8_0: [rows, groups, 32]) codes, as rows.
    exact_rows = ((codes.astype(np.float32) - (0 if zero_point is None else zero_point)) * scale).reshape(
        codes.shape[0], -1)
    blocks = coarse_blocks(exact_rows, group, sym)
    rows, columns = exact_rows.shape
    coarse_table = ops.convert(decompression_chain(blocks, "lm_head.coarse", (rows, columns)), ov.Type.f32)
    # openvino-genai slices the head MatMul's input to the last position (utils.cpp
    # find_llm_matmul, 2026.x: Result <- Add <- MatMul is one of its patterns), so the logits are
    # the coarse MatMul plus a correction, and the exact stage takes as many last positions of
    # `hidden` as the coarse logits have: the last one under genai, all of them in `eval`.
    coarse = ops.matmul(hidden, coarse_table, False, True, name="lm_head/coarse")
    positions = ops.gather(ops.shape_of(coarse), np.int64([1]), np.int64(0))
    last = ops.slice(hidden, ops.negative(positions), np.int64([np.iinfo(np.int64).max]), np.int64([1]),
                     np.int64([1]), name="lm_head/last_positions")
    top = ops.topk(coarse, np.int64(k), np.int64(-1), "max", "none", index_element_type=ov.Type.i32,
                   name="lm_head/topk")
    picked = ops.gather(table, top.output(1), np.int64(0), name="lm_head/exact_rows")  # [B, S, k, H]
    exact = ops.squeeze(ops.matmul(picked, ops.unsqueeze(last, np.int64(-1)), False, False), np.int64(-1))
    zeros = ops.broadcast(np.float32(0), ops.shape_of(coarse))
    correction = ops.scatter_elements_update(zeros, top.output(1), ops.subtract(exact, top.output(0)),
                                             np.int64(-1), name="lm_head/correction")
    logits = ops.add(coarse, correction, name="lm_head/logits")
    result.input(0).replace_source_output(logits.output(0))
    scale_bytes = blocks.scale.size * (2 if sym else 4)  # f16 scale (and zero point)
    return {"k": k, "group": group, "sym": sym, "coarse_mb": (blocks.codes.size / 2 + scale_bytes) / 1e6,
            "exact_mb_per_token": k * columns / 1e6}


def write(export_dir: Path, out: Path, k: int, group: int, sym: bool = False) -> dict:
    """A copy of `export_dir` in `out` whose IR has the two-stage head."""
    import openvino as ov

    from ..files import staged_directory

    if not (export_dir / MODEL_FILE).is_file():
        raise ExportError(f"{export_dir} has no {MODEL_FILE}; give an int8 OpenVINO export (make export QUANT=int8)")
    model = ov.Core().read_model(export_dir / MODEL_FILE)
    sizes = rewrite(model, k, group, sym)
    with staged_directory(out) as (work, result):
        shutil.copytree(export_dir, result, ignore=shutil.ignore_patterns("openvino_model.*"), dirs_exist_ok=True)
        ov.save_model(model, result / MODEL_FILE, compress_to_fp16=False)
    return sizes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edge_gemma.benchmark.two_stage_head", description=__doc__.split("\n")[0])
    p.add_argument("export_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--k", type=int, default=1024, help="candidates re-scored exactly (default 1024)")
    p.add_argument("--group", type=int, default=32, help="coarse copy's group size, 0 for one per row (default 32)")
    p.add_argument("--sym", action="store_true", help="a symmetric i4 coarse copy (default: asymmetric u4)")
    args = p.parse_args(argv)
    try:
        sizes = write(args.export_dir, args.out, args.k, args.group, args.sym)
    except ExportError as exc:
        print(f"two_stage_head: error: {exc}", file=sys.stderr)
        return 1
    print(f"written {args.out}: {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
