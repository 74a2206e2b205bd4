"""Where a decode step's time goes: OpenVINO's per-node counters on an export's stateful IR.

    python -m edge_gemma.benchmark.profile EXPORT_DIR [--threads 2] [--prompt 128] [--steps 48]

Compiles the IR on CPU with the properties the runtime gives this export (threads, the
dynamic quantization group: runtime/device_config.py) plus PERF_COUNT, fills the KV cache
with a prompt, then decodes one token at a time and sums each node's time by kind over the
steps after a warm-up. It prints milliseconds per step by node kind (the LM head's nodes
apart from the other MatMuls, which the CPU plugin runs as FullyConnected), their sum, and
the wall time of a step with the counters on (what is left above their sum is the call and
the plugin's work between nodes) and off (counting slows every node). This is the IR as
openvino-genai's single-stream (SDPA) pipeline runs it; genai adds its sampling.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from ..export.calibration import openvino_inputs

WARMUP = 8  # decode steps not counted


def _kind(node) -> str:
    """The LM head's nodes apart (optimum-intel names them lm_head); the CPU plugin runs every
    other MatMul with a weight as FullyConnected (FullyConnectedCompressed for int weights).
    A MatMul's kind names its kernel too (exec_type, e.g. brgemm_avx512_bf16): the kernel
    differs by CPU and weight format (docs/benchmarks.md, "A decode step, node by node")."""
    if not node.node_type.startswith("FullyConnected"):
        return f"LM head: {node.node_type}" if "lm_head" in node.node_name else node.node_type
    where = "LM head" if "lm_head" in node.node_name else "other MatMuls"
    return f"{where}: {node.node_type} [{node.exec_type}]"


def _totals(request, infers: int) -> dict[str, float]:
    """Seconds per node kind over the request's `infers` inferences so far. The CPU plugin
    reports each node's mean time over every inference of the request, not the last one's
    (OpenVINO 2026.4.1: after a prompt, the head's figure fell step by step towards the
    decode time; mean x count, differenced, follows the wall time of each step)."""
    totals: dict[str, float] = defaultdict(float)
    for node in request.profiling_info:
        totals[_kind(node)] += node.real_time.total_seconds() * infers
    return totals


def _steps(request, prompt: int, steps: int) -> tuple[list[float], dict, dict]:
    """The prompt, then `steps` one-token steps: their wall times after the warm-up, and the
    counters' totals at the end of the warm-up and at the end."""
    request.reset_state()
    request.infer(openvino_inputs(list(range(1000, 1000 + prompt)), 0))
    walls, before = [], {}
    for step in range(steps):
        if step == WARMUP:
            before = _totals(request, 1 + step)
        start = time.perf_counter()
        request.infer(openvino_inputs([1000 + step], prompt + step))
        if step >= WARMUP:
            walls.append(time.perf_counter() - start)
    return walls, before, _totals(request, 1 + steps)


def profile(model_xml: Path, config: dict, prompt: int = 128, steps: int = 48) -> dict:
    """Per-node-kind milliseconds of one decode step from the counters, their sum, and the
    wall time of a step with the counters on and off (counting costs time of its own)."""
    import openvino as ov

    core = ov.Core()
    counted = steps - WARMUP
    request = core.compile_model(model_xml, "CPU", config | {"PERF_COUNT": True}).create_infer_request()
    walls, before, after = _steps(request, prompt, steps)
    kinds = {kind: (seconds - before.get(kind, 0.0)) / counted * 1e3 for kind, seconds in after.items()}
    kinds = dict(sorted(kinds.items(), key=lambda kv: -kv[1]))
    del request  # one compiled model at a time
    plain = core.compile_model(model_xml, "CPU", config | {"PERF_COUNT": False}).create_infer_request()
    plain_walls, _, _ = _steps(plain, prompt, steps)
    return {"model": str(model_xml), "threads": config.get("INFERENCE_NUM_THREADS"), "prompt": prompt,
            "steps": counted, "ms_by_kind": kinds, "ms_counted": sum(kinds.values()),
            "ms_wall_median": statistics.median(walls) * 1e3,
            "ms_wall_median_uncounted": statistics.median(plain_walls) * 1e3,
            "config": {k: str(v) for k, v in config.items()}}


def table(report: dict) -> str:
    wall = report["ms_wall_median"]
    lines = [f"{report['model']}: {report['steps']} decode steps after a {report['prompt']}-token prompt "
             f"({WARMUP} more as warm-up), {report['threads']} threads",
             f"{'node kind':<64} {'ms/step':>8} {'share':>6}"]
    lines += [f"{kind:<64} {ms:>8.3f} {ms / wall:>6.1%}" for kind, ms in report["ms_by_kind"].items() if ms >= 0.005]
    lines += [f"{'sum of the counters':<64} {report['ms_counted']:>8.3f} {report['ms_counted'] / wall:>6.1%}",
              f"{'wall time of a step, counters on (median)':<64} {wall:>8.3f} {1:>6.1%}",
              f"{'wall time of a step, counters off (median)':<64} {report['ms_wall_median_uncounted']:>8.3f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_gemma.benchmark.profile", description=__doc__.split("\n")[0])
    parser.add_argument("export_dir", type=Path, help="an OpenVINO export folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128, help="tokens in the KV cache before the steps")
    parser.add_argument("--steps", type=int, default=48, help=f"decode steps ({WARMUP} of them warm-up)")
    args = parser.parse_args(argv)
    if args.steps <= WARMUP:
        parser.error(f"--steps must be more than the {WARMUP} warm-up steps")
    from ..export_folder import MODEL_XML

    if not (args.export_dir / MODEL_XML).is_file():
        parser.error(f"{args.export_dir} has no {MODEL_XML}: give an OpenVINO export folder")
    from ..export_folder import read_export
    from ..runtime.device_config import export_cpu_config

    config = export_cpu_config(read_export(args.export_dir), args.threads)
    print(table(profile(args.export_dir / MODEL_XML, config, args.prompt, args.steps)))
    print(f"compile properties: {config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
