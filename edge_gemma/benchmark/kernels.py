"""How fast the CPU plugin reads each weight format: one decode-step MatMul per format and shape.

    python -m edge_gemma.benchmark.kernels [--threads 2] [--shapes 2048x640,640x2048,262144x640]

(about 10 minutes at 2 threads on the default shapes; docs/benchmarks.md has a run.)

Decode is bound by the bytes of weights read per token, but not every format is read at the
same rate: the plugin picks a kernel by element type, group and zero-point type, and
quantizes the activations on the fly (DYNAMIC_QUANTIZATION_GROUP_SIZE, default 32) for some
of them. This prints GB/s of weights read for one token ([1, 1, columns] @ weight^T), with
that setting at the default and off, for the layouts NNCF and the GGUF path write. The
weights are random codes: the kernels' speed does not depend on the values. Shapes are
rows x columns (the 270M's MLP 2048x640 and 640x2048, its LM head 262144x640); small
matrices are repeated so one call reads about 200 MB, as a decode step does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from ..export.gguf_blocks import Blocks
from ..export.ir_constants import decompression_chain

READ_PER_CALL = 2e8  # bytes of weights per timed call, as in one decode step of the 270M (far above any L3)
MAX_COPIES = 256  # of one small matrix in a call (the 270M has 126 decoder MatMuls)

# name: (bits, symmetric, group (0: one per row), zero point stored as an integer of the code type)
FORMATS = {
    "u8 per-row (NNCF int8_asym)": (8, False, 0, True),
    "i8 per-row (NNCF int8_sym)": (8, True, 0, False),
    "i8 g32 (GGUF Q8_0, int8-g32)": (8, True, 32, False),
    "u4 g32 (NNCF int4_asym)": (4, False, 32, True),
    "u4 g32, f16 zero point": (4, False, 32, False),
    "i4 g32 (GGUF Q4_0)": (4, True, 32, False),
    "i4 g64": (4, True, 64, False),
    "i4 g128 (NNCF int4_sym, NPU)": (4, True, 128, False),
    "i4 per-row": (4, True, 0, False),
}


def weight(rows: int, columns: int, bits: int, sym: bool, group: int, int_zero_point: bool, rng):
    """An f32 weight [rows, columns] behind the decompression chain the exports write, and its bytes."""
    import openvino as ov
    import openvino.opset13 as ops

    size = group or columns
    shape = (rows, columns // size)
    if sym:
        codes = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), (*shape, size), dtype=np.int8)
        zero_point = None
    else:
        codes = rng.integers(0, 2**bits, (*shape, size), dtype=np.uint8)
        zero_point = np.full((*shape, 1), 2 ** (bits - 1), np.uint8 if int_zero_point else np.float16)
    blocks = Blocks(codes=codes, scale=np.full((*shape, 1), 0.01, np.float16), zero_point=zero_point, bits=bits)
    nbytes = codes.size * bits / 8 + blocks.scale.nbytes
    if zero_point is not None:
        nbytes += zero_point.size * bits / 8 if int_zero_point else zero_point.nbytes
    return ops.convert(decompression_chain(blocks, "w", (rows, columns)), ov.Type.f32), nbytes


def rate(rows: int, columns: int, fmt: tuple, threads: int, dynamic_quant_group: int | None,
         calls: int = 20, rounds: int = 5) -> float:
    """GB/s of weights read by `calls` one-token MatMuls, median of `rounds`."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    hidden = ops.parameter([1, 1, columns], ov.Type.f32)
    outputs, nbytes = [], 0
    while nbytes < READ_PER_CALL and len(outputs) < MAX_COPIES:
        w, size = weight(rows, columns, *fmt, rng)
        outputs.append(ops.result(ops.matmul(hidden, w, False, True)))
        nbytes += size
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if dynamic_quant_group is not None:
        config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = dynamic_quant_group
    request = ov.Core().compile_model(ov.Model(outputs, [hidden]), "CPU", config).create_infer_request()
    x = {0: rng.standard_normal((1, 1, columns)).astype(np.float32)}
    for _ in range(5):
        request.infer(x)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            request.infer(x)
        times.append((time.perf_counter() - start) / calls)
    return nbytes / statistics.median(times) / 1e9


def table(shapes: list[tuple[int, int]], threads: int, formats: dict = FORMATS, **timing) -> list[dict]:
    return [{"shape": f"{rows}x{columns}", "format": name,
             "gb_per_s": rate(rows, columns, fmt, threads, None, **timing),
             "gb_per_s_dq_off": rate(rows, columns, fmt, threads, 0, **timing)}
            for rows, columns in shapes for name, fmt in formats.items()]


def _shapes(text: str) -> list[tuple[int, int]]:
    """"2048x640,640x2048" -> [(2048, 640), (640, 2048)]."""
    try:
        shapes = [tuple(int(n) for n in s.split("x")) for s in text.split(",")]
    except ValueError:
        shapes = []
    if not shapes or any(len(s) != 2 or min(s) < 1 for s in shapes):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of ROWSxCOLUMNS, e.g. 2048x640,262144x640")
    return shapes


def main(argv: list[str] | None = None) -> int:
    from ..devices import cpu_name

    p = argparse.ArgumentParser(prog="python -m edge_gemma.benchmark.kernels", description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--shapes", type=_shapes, default="2048x640,640x2048,262144x640",
                   help="rows x columns, comma-separated")
    args = p.parse_args(argv)
    print(f"{cpu_name()}, {args.threads} threads; GB/s of weights read, activations quantized in groups of 32 "
          "(the CPU default) / not quantized")
    print("| shape | format | DQ 32 | DQ off |\n|---|---|---|---|")
    for row in table(args.shapes, args.threads):
        print(f"| {row['shape']} | {row['format']} | {row['gb_per_s']:.3g} | {row['gb_per_s_dq_off']:.3g} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
