"""Measure `edge-gemma export`: wall time, peak RSS and model size per quant level.

Each export runs as its own process (os.wait4 gives that process's own peak RSS). The first
run uses an empty cache, so it also pays the one-time GGUF -> checkpoint conversion; the
others reuse the converted checkpoint. Prints a Markdown table.

    python bench/export.py [--model gemma-3-270m] [--quant fp16 --quant int8 --quant int4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_export(model: str, quant: str, out: Path, cache: Path, yaml_dir: Path) -> dict:
    cmd = [sys.executable, "-m", "edge_gemma", "export", "--model", model, "--quant", quant,
           "--output", str(out), "--cache-dir", str(cache), "--yaml-dir", str(yaml_dir)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"export {model} {quant} failed; rerun `edge-gemma export` to see why")
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "quant": quant,
        "wall_s": wall,
        "peak_rss_gb": usage.ru_maxrss / 1024**2,  # ru_maxrss is in KiB on Linux
        "model_mb": (out / "openvino_model.bin").stat().st_size / 1e6,
        "export_mb": manifest["total_bytes"] / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--quant", action="append")
    args = parser.parse_args()
    quants = args.quant or ["int4", "int8", "fp16"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = []
        for i, quant in enumerate(quants):
            row = run_export(args.model, quant, root / quant, root / "cache", root / "yaml")
            row["note"] = "cold cache: includes GGUF conversion" if i == 0 else "warm cache"
            rows.append(row)
            print(f"{quant}: {row['wall_s']:.0f}s", file=sys.stderr, flush=True)
    print(f"| {args.model} | wall time | peak RSS | openvino_model.bin | whole export | |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['quant']} | {r['wall_s']:.0f} s | {r['peak_rss_gb']:.2f} GB | {r['model_mb']:.0f} MB "
              f"| {r['export_mb']:.0f} MB | {r['note']} |")


if __name__ == "__main__":
    main()
