"""`edge-gemma validate [FILE...]`: check recipes, every problem in a file reported at once."""

from __future__ import annotations

import sys
from pathlib import Path

HELP = "check recipe files (all of recipes/ by default)"


def add_arguments(p) -> None:
    p.add_argument("files", nargs="*", type=Path)


def run(args) -> int:
    from ..errors import RecipeError
    from ..recipes import parse_recipe, recipe_names

    paths = args.files or [args.recipes_dir / f"{n}.yaml" for n in recipe_names(args.recipes_dir)]
    failed = 0
    for path in paths:
        try:
            parse_recipe(path)
            print(f"ok    {path}")
        except RecipeError as err:
            failed += 1
            print(f"error {err.path}:", file=sys.stderr)
            for problem in err.problems:
                print(f"  - {problem}", file=sys.stderr)
    print(f"{len(paths) - failed} valid, {failed} invalid")
    return 1 if failed else 0
