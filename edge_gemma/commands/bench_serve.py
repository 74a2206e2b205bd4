"""`edge-gemma bench-serve`: a load test of the LocalAI backend, concurrent streaming clients
against each engine (benchmark/serve_load.py)."""

from __future__ import annotations

import json
import os
import sys

from .common import add_export_dir, at_least, export_dir

HELP = "load test of the LocalAI backend: concurrent streaming clients"


def add_arguments(p) -> None:
    add_export_dir(p)
    p.add_argument("--engine", action="append", choices=["genai", "optimum"],
                   help="repeatable; default both (optimum is the engine LocalAI's transformers backend runs)")
    p.add_argument("--clients", type=at_least(1), default=4, help="concurrent streaming clients (default 4)")
    p.add_argument("--seconds", type=at_least(1), default=30, help="how long the clients send requests (default 30)")
    p.add_argument("--new-tokens", type=at_least(1), default=64, help="tokens per request (default 64)")
    p.add_argument("--threads", type=at_least(1), default=os.cpu_count(), help="CPU threads (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args) -> int:
    from ..benchmark.serve_load import run as load_test
    from ..benchmark.serve_load import table

    def log(msg: str) -> None:
        print(f"bench-serve: {msg}", file=sys.stderr, flush=True)

    report = load_test(export_dir(args), args.engine or ["genai", "optimum"], args.clients, args.seconds,
                       args.new_tokens, args.threads, log=log)
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0
