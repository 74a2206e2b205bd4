"""`edge-gemma`: the one command line. `main(argv) -> int` is what the Makefile calls.

Domain errors (EdgeGemmaError) are caught here, once, and printed as one line; --verbose
shows the traceback too.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from . import recipes as recipes_mod
from .errors import EdgeGemmaError, RecipeError
from .layout import EXPORTS_DIR, MODEL_YAML_DIR, default_cache_dir, export_name
from .localai import DEVICE


def _device(value: str) -> str:
    if not DEVICE.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an OpenVINO device (CPU, GPU, GPU.1, NPU, AUTO)")
    return value


def cmd_list(args) -> int:
    recipes, errors = recipes_mod.load_all(args.recipes_dir)
    width = max((len(r.name) for r in recipes), default=0)
    for r in recipes:
        print(f"{r.name:<{width}}  {r.family:<11}  ctx {r.context_size:<6}  {' '.join(r.quant)}  {r.source}")
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    return 1 if errors else 0


def cmd_validate(args) -> int:
    paths = args.files or [args.recipes_dir / f"{n}.yaml" for n in recipes_mod.recipe_names(args.recipes_dir)]
    failed = 0
    for path in paths:
        try:
            recipes_mod.parse_recipe(path)
            print(f"ok    {path}")
        except RecipeError as err:
            failed += 1
            print(f"error {err.path}:", file=sys.stderr)
            for problem in err.problems:
                print(f"  - {problem}", file=sys.stderr)
    print(f"{len(paths) - failed} valid, {failed} invalid")
    return 1 if failed else 0


def cmd_export(args) -> int:
    from .export_openvino import export_openvino
    from .localai import write_model_yaml
    from .sources import parse_source

    recipe = recipes_mod.load_recipe(args.model, args.recipes_dir)
    recipe.preset(args.quant)  # unknown QUANT fails before any work
    source = parse_source(args.source or recipe.source)
    output = args.output or EXPORTS_DIR / export_name(recipe.name, args.quant)
    manifest = export_openvino(recipe, args.quant, source, output, args.cache_dir, force=args.force)
    yaml_path = write_model_yaml(recipe, output.name, args.yaml_dir / f"{output.name}.yaml", args.device)
    mb = manifest["total_bytes"] / 1e6
    print(f"exported {output} ({mb:.0f} MB); LocalAI definition: {yaml_path}")
    return 0


def cmd_yaml(args) -> int:
    from .localai import write_model_yaml

    names = args.model or recipes_mod.recipe_names(args.recipes_dir)
    for name in names:
        recipe = recipes_mod.load_recipe(name, args.recipes_dir)
        for quant in args.quant or recipe.quant:
            recipe.preset(quant)
            dir_name = export_name(recipe.name, quant)
            path = write_model_yaml(recipe, dir_name, args.yaml_dir / f"{dir_name}.yaml", args.device)
            print(path)
    return 0


def cmd_generate(args) -> int:
    from .generate import ExportedModel

    model = ExportedModel(args.export_dir, device="CPU")
    print(model.generate(args.prompt, max_new_tokens=args.max_new_tokens))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-gemma", description="Take Gemma checkpoints to Intel edge devices.")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--recipes-dir", type=Path, default=recipes_mod.RECIPES_DIR, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="models and their quant levels").set_defaults(func=cmd_list)

    p = sub.add_parser("validate", help="check recipe files (all of recipes/ by default)")
    p.add_argument("files", nargs="*", type=Path)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("export", help="convert a model to a compressed OpenVINO IR and a LocalAI model.yaml")
    p.add_argument("--model", default="gemma-3-270m", help="recipe name (see `edge-gemma list`)")
    p.add_argument("--quant", default="int4", help="fp16, int8, int4 or int4-npu")
    p.add_argument("--format", default="openvino", choices=["openvino"], help="output format")
    p.add_argument("--source", help="override the recipe's source: hub id, HF folder, or .gguf file")
    p.add_argument("--output", type=Path, help="export folder (default exports/MODEL-QUANT)")
    p.add_argument("--force", action="store_true", help="replace an existing export")
    p.add_argument("--device", type=_device, help="OpenVINO device LocalAI should use (main_gpu)")
    p.add_argument("--yaml-dir", type=Path, default=MODEL_YAML_DIR, help="where model.yaml goes")
    p.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="GGUF conversion cache")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("yaml", help="write LocalAI model.yaml files for recipes, without exporting")
    p.add_argument("--model", action="append", help="recipe name (repeatable; default: all)")
    p.add_argument("--quant", action="append", help="quant level (repeatable; default: all)")
    p.add_argument("--device", type=_device, help="OpenVINO device LocalAI should use (main_gpu)")
    p.add_argument("--yaml-dir", type=Path, default=MODEL_YAML_DIR)
    p.set_defaults(func=cmd_yaml)

    p = sub.add_parser("generate", help="greedy completion from an export on CPU")
    p.add_argument("export_dir", type=Path)
    p.add_argument("prompt")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EdgeGemmaError as err:
        if args.verbose:
            traceback.print_exc()
        print(f"edge-gemma: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edge-gemma: interrupted; nothing was left half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
