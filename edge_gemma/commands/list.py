"""`edge-gemma list`: the models (recipes), their families, context sizes, quant levels and sources."""

from __future__ import annotations

import sys

HELP = "models and their quant levels"


def add_arguments(p) -> None:
    pass


def run(args) -> int:
    from ..recipes import load_all

    recipes, errors = load_all(args.recipes_dir)
    width = max((len(r.name) for r in recipes), default=0)
    family_width = max((len(r.family) for r in recipes), default=0)
    for r in recipes:
        print(f"{r.name:<{width}}  {r.family:<{family_width}}  ctx {r.context_size:<6}  {' '.join(r.quant)}  {r.source}")
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    return 1 if errors else 0
