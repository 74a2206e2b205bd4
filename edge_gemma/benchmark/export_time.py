"""Measure `edge-gemma export`: wall time, peak RSS and model size per quant level
(`edge-gemma bench-export`, `make bench-export`).

Each step runs as its own process (os.wait4 gives that process's own peak RSS). The first
step fetches/converts the recipe's source into an empty cache (for a GGUF: dequantize to a
bf16 checkpoint and rebuild the tokenizer), once; the exports then reuse it, as a second
`make export` does. Returns a Markdown table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import EdgeGemmaError

CONVERT = (
    "import sys; from pathlib import Path; from edge_gemma.recipes import load_recipe; "
    "from edge_gemma.sources import parse_source, prepare_checkpoint; "
    "prepare_checkpoint(parse_source(load_recipe(sys.argv[1]).source), Path(sys.argv[2]))"
)


def measured(cmd: list[str], what: str) -> tuple[float, float]:
    """Run cmd; return its wall seconds and its own peak RSS in GB."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise EdgeGemmaError(f"{what} failed; rerun it with `edge-gemma export` to see why")
    print(f"{what}: {wall:.0f}s", file=sys.stderr, flush=True)
    return wall, usage.ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux


def timed_export(model: str, quant: str, out: Path, cache: Path) -> str:
    cmd = [sys.executable, "-m", "edge_gemma", "export", "--model", model, "--quant", quant,
           "--output", str(out), "--cache-dir", str(cache)]
    wall, rss = measured(cmd, f"export {quant}")
    total = json.loads((out / "manifest.json").read_text())["total_bytes"]
    model_bin = (out / "openvino_model.bin").stat().st_size
    return f"| {quant} | {wall:.0f} s | {rss:.2f} GB | {model_bin / 1e6:.0f} MB | {total / 1e6:.0f} MB |"


def export_times(model: str, quants: list[str]) -> str:
    """The Markdown table: the source step once, then each quant level's export."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wall, rss = measured([sys.executable, "-c", CONVERT, model, str(root / "cache")], "source")
        rows = [f"| source, once (cached after) | {wall:.0f} s | {rss:.2f} GB | | |"]
        rows += [timed_export(model, q, root / q, root / "cache") for q in quants]
    return "\n".join([f"| {model} | wall time | peak RSS | openvino_model.bin | whole export |", "|---|---|---|---|---|",
                      *rows])
