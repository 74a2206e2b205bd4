"""`edge-gemma yaml`: LocalAI model.yaml files for recipes, without exporting (serve/localai.py)."""

from __future__ import annotations

from pathlib import Path

from ..layout import MODEL_YAML_DIR
from .common import QUANT_HELP, add_localai_backend, add_localai_device

HELP = "write LocalAI model.yaml files for recipes, without exporting"


def add_arguments(p) -> None:
    p.add_argument("--model", action="append", help="recipe name (repeatable; default: all)")
    p.add_argument("--quant", action="append", help=f"{QUANT_HELP} (repeatable; default: all)")
    add_localai_device(p, "them")
    add_localai_backend(p, "--backend")
    p.add_argument("--yaml-dir", type=Path, default=MODEL_YAML_DIR, help="where they go (default model_yaml/)")


def run(args) -> int:
    from ..layout import export_name
    from ..recipes import load_recipe, recipe_names
    from ..serve.localai import checked_config, write_model_yaml

    planned = []
    for name in args.model or recipe_names(args.recipes_dir):
        recipe = load_recipe(name, args.recipes_dir)
        for quant in args.quant or recipe.quant:
            recipe.preset(quant)  # an unknown QUANT names the valid ones
            dir_name = export_name(recipe.name, quant)
            planned.append((recipe, dir_name, args.yaml_dir / f"{dir_name}.yaml"))
    for recipe, dir_name, path in planned:  # every file is checked before any is written
        checked_config(recipe, dir_name, path, args.localai_device, args.localai_backend)
    for recipe, dir_name, path in planned:
        print(write_model_yaml(recipe, dir_name, path, args.localai_device, args.localai_backend))
    return 0
