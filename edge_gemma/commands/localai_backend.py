"""`edge-gemma localai-backend`: serve exports to LocalAI over its backend gRPC protocol
(serve/server.py). LocalAI runs it through the `edge-gemma-localai-backend` launcher."""

from __future__ import annotations

from .common import at_least

HELP = "serve exports to LocalAI: its backend gRPC protocol on --addr"


def add_arguments(p) -> None:
    p.add_argument("--addr", default="127.0.0.1:50051", help="HOST:PORT to listen on (LocalAI passes one)")
    p.add_argument("--workers", type=at_least(1), default=16,
                   help="RPCs served at once; a request holds one until its answer is out (default 16)")


def run(args) -> int:
    from ..serve.server import serve

    serve(args.addr, args.workers)
    return 0
