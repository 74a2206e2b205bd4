"""`edge-gemma card MODEL`: rewrite the model cards of MODEL's exports with their quant ladder
(export/card.py writes each card)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..layout import EXPORTS_DIR

HELP = "rewrite the model cards of a model's exports with their quant ladder"


def add_arguments(p) -> None:
    p.add_argument("model", help="recipe name")
    p.add_argument("--exports-dir", type=Path, default=EXPORTS_DIR, help="where the exports are (default exports/)")


def run(args) -> int:
    from ..errors import RuntimeCheckError
    from ..export.card import ladder_table, write_card
    from ..export_folder import MANIFEST, read_manifest
    from ..recipes import load_recipe

    load_recipe(args.model, args.recipes_dir)  # an unknown MODEL names the valid ones
    found = [(p.parent, read_manifest(p.parent)) for p in sorted(args.exports_dir.glob(f"*/{MANIFEST}"))]
    mine = [(folder, m) for folder, m in found if m.get("model") == args.model]
    if not mine:
        raise RuntimeCheckError(f"no exports of {args.model} in {args.exports_dir}; make one with "
                                f"`make export MODEL={args.model}`")
    ladder = [m for _, m in mine]
    for folder, manifest in mine:
        print(write_card(folder, manifest, ladder), file=sys.stderr)
    print(ladder_table(ladder))
    return 0
