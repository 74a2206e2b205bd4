"""End to end, as a user runs it: process start to exit, generating 16 new tokens.

`edge-gemma generate` on an export beside llama.cpp doing the same on the source GGUF through
llama-cpp-python (a Python program too, so both pay an interpreter start). Greedy, same
prompt, same thread count. The first edge-gemma run starts with an empty compiled-model cache
(cold), the others with it warm; llama.cpp has no such cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROMPT = "The capital of France is"
NEW_TOKENS = 16

# llama.cpp's equivalent of `edge-gemma generate`: load, decode greedily, print, exit.
LLAMA_GENERATE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_threads=int(sys.argv[2]), n_threads_batch=int(sys.argv[2]), n_ctx=2048,
            flash_attn=True, verbose=False)
out = llm(sys.argv[3], max_tokens=int(sys.argv[4]), temperature=0.0, top_k=1)
print(out["choices"][0]["text"])
"""


def _wall(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return wall


def end_to_end(export_dir: Path, gguf: Path | None, threads: int, cache: Path, runs: int = 3) -> dict:
    """{"edge-gemma generate": {"cold_s", "warm_s"}, "llama.cpp": {"warm_s"}} in seconds (median of `runs`)."""
    env = {**os.environ, "EDGE_GEMMA_CACHE": str(cache)}  # an empty compiled-model cache to start
    ours = [sys.executable, "-m", "edge_gemma", "generate", str(export_dir), PROMPT, "--device", "CPU",
            "--threads", str(threads), "--max-new-tokens", str(NEW_TOKENS)]
    result = {"edge-gemma generate": {"cold_s": round(_wall(ours, env), 2),
                                      "warm_s": round(statistics.median(_wall(ours, env) for _ in range(runs)), 2)}}
    if gguf is not None:
        theirs = [sys.executable, "-c", LLAMA_GENERATE, str(gguf), str(threads), PROMPT, str(NEW_TOKENS)]
        _wall(theirs, env)  # the GGUF into the page cache, as the export's files are
        result["llama.cpp"] = {"warm_s": round(statistics.median(_wall(theirs, env) for _ in range(runs)), 2)}
    return result
