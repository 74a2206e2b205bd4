"""`edge-gemma generate`: complete a prompt with an export; prints only the completion."""

from __future__ import annotations

import sys

from .common import add_generation, add_runtime, generation_options, load_model, write

HELP = "complete a prompt; prints only the completion"
REPEATED = ("edge-gemma: stopped: the answer repeats itself verbatim (--keep-repeats decodes on to "
            "--max-new-tokens)")


def add_arguments(p) -> None:
    add_runtime(p)
    p.add_argument("prompt")
    add_generation(p, 64)


def run(args) -> int:
    model = load_model(args, note=lambda model: generation_options(args, model)[1])
    options, _ = generation_options(args, model)
    model.generate(args.prompt, on_text=write, **options)
    print()
    if model.stats.repeated:
        print(REPEATED, file=sys.stderr)
    return 0
