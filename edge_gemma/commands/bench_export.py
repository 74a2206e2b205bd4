"""`edge-gemma bench-export`: wall time and peak memory of each export step of a recipe
(benchmark/export_time.py), as a Markdown table."""

from __future__ import annotations

HELP = "wall time, peak memory and size of `edge-gemma export` per quant level"


def add_arguments(p) -> None:
    p.add_argument("--model", default="gemma-3-270m", help="recipe name (default gemma-3-270m)")
    p.add_argument("--quant", action="append", help="repeatable (default: fp16, int8, int4)")


def run(args) -> int:
    from ..benchmark.export_time import export_times
    from ..recipes import load_recipe

    recipe = load_recipe(args.model, args.recipes_dir)
    quants = args.quant or ["fp16", "int8", "int4"]
    for quant in quants:
        recipe.preset(quant)  # an unknown QUANT fails before any work
    print(export_times(recipe.name, quants))
    return 0
