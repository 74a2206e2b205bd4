"""`edge-gemma bench`: start-up, first token, decode speed and peak memory of an export per
engine, beside PyTorch and llama.cpp (benchmark/run.py)."""

from __future__ import annotations

import json
import os
import sys

from .common import add_export_dir, at_least, export_dir

HELP = "load time, first token, decode speed and memory per engine"


def add_arguments(p) -> None:
    from ..runtime.engines import ENGINES

    add_export_dir(p)
    p.add_argument("--engine", action="append", choices=list(ENGINES),
                   help="repeatable; default: every engine for the export's format")
    p.add_argument("--no-baselines", action="store_true", help="skip PyTorch and llama.cpp")
    p.add_argument("--threads", type=at_least(1), default=os.cpu_count(), help="threads for every engine (default: all)")
    p.add_argument("--runs", type=at_least(1), default=5, help="measured runs after a warm-up (median, min, max)")
    p.add_argument("--new-tokens", type=at_least(2), default=128, help="decoded per run (decode speed needs 2)")
    p.add_argument("--attention", choices=["SDPA", "PA"], help="genai's attention backend (default: its choice)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args) -> int:
    from ..benchmark.run import benchmark, table

    log = (lambda msg: None) if args.json else (lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True))
    report = benchmark(export_dir(args), args.engine, not args.no_baselines,
                       args.threads, args.runs, args.new_tokens, log=log, attention=args.attention)
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0
