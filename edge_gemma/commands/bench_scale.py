"""`edge-gemma bench-scale`: memory and time of an export at full scale, on a random-weight
checkpoint of a recipe's exact shape (benchmark/scale.py); one Markdown row for docs/."""

from __future__ import annotations

from pathlib import Path

from ..errors import EdgeGemmaError
from .common import at_least

HELP = "peak memory and time of an export in a model's real shape, random weights"


def add_arguments(p) -> None:
    from ..benchmark.scale import SHAPES

    p.add_argument("--model", choices=list(SHAPES), default="gemma-2-9b-it")
    p.add_argument("--quant", default="int4")
    p.add_argument("--work", type=Path, default=Path("/tmp/edge-gemma-scale"),
                   help="where the random checkpoint and the export go (default /tmp/edge-gemma-scale)")
    p.add_argument("--layers", type=at_least(1),
                   help="keep only this many decoder layers (same widths and vocabulary): runs at a few "
                        "depths give memory as a line in the depth, to extrapolate where the full model "
                        "does not fit the machine")
    p.add_argument("--memory-limit", type=float, metavar="GB",
                   help="run the export under this memory ceiling (a Linux memory cgroup; root): the checkpoint's "
                        "file pages count and are reclaimed as on a machine with this much free memory, and the "
                        "row says whether it fitted (e.g. 13 for a 16 GB laptop)")


def run(args) -> int:
    from ..benchmark.scale import scale_row
    from ..recipes import load_recipe

    load_recipe(args.model, args.recipes_dir).preset(args.quant)  # a bad QUANT fails before any work
    if args.memory_limit is not None and args.memory_limit <= 0:
        raise EdgeGemmaError(f"--memory-limit is in GB and must be above 0, not {args.memory_limit:g}")
    print(scale_row(args.model, args.quant, args.work, args.layers, args.memory_limit))
    return 0
