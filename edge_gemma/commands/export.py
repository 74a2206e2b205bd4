"""`edge-gemma export`: a recipe's quant level to a stateful OpenVINO IR (plus its LocalAI
model.yaml beside it) or an ONNX model, measured against its reference, with its model card.

The steps are export/driver.py's `run_export`; this module resolves what to export once (an
ExportPlan), hands the driver the quality measurement, and writes the model.yaml."""

from __future__ import annotations

import functools
from pathlib import Path

from ..export_folder import FORMATS
from ..layout import DEFAULT_MODEL, DEFAULT_QUANT
from .common import QUANT_HELP, add_cache_dir, add_localai_backend, add_localai_device

HELP = "convert a model to a compressed OpenVINO IR (plus a LocalAI model.yaml) or ONNX model"


def add_arguments(p) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"recipe name (see `edge-gemma list`; default {DEFAULT_MODEL})")
    p.add_argument("--quant", default=DEFAULT_QUANT, help=f"{QUANT_HELP} (default {DEFAULT_QUANT})")
    p.add_argument("--format", default="openvino", choices=FORMATS,
                   help="openvino (IR, for LocalAI and the genai/optimum engines; the default) or onnx (ONNX Runtime)")
    p.add_argument("--source", help="override the recipe's source: hub id, HF folder, or .gguf file")
    p.add_argument("--output", type=Path, help="export folder (default exports/MODEL-QUANT, "
                   "exports/MODEL-QUANT-onnx for ONNX); the LocalAI model.yaml goes beside it")
    p.add_argument("--force", action="store_true", help="replace an existing export")
    add_localai_device(p, "it")
    add_localai_backend(p)
    add_cache_dir(p)
    add_quality(p)


def add_quality(p) -> None:
    """The flags of the quality step and of calibration."""
    p.add_argument("--no-eval", action="store_true", help="skip measuring quality against the reference "
                   "(it runs the model twice over 4,800 tokens: minutes for 7B-9B models)")
    add_texts(p)
    p.add_argument("--accept-quality", action="store_true", help="keep an export whose KL is above the recipe's max_kl")


def add_texts(p) -> None:
    """The evaluation and calibration texts, shared with `sweep`."""
    p.add_argument("--eval-text", type=Path, metavar="FILE", help="evaluation text (default: the built-in held-out text)")
    p.add_argument("--calibration", type=Path, metavar="FILE",
                   help="calibration text for data-aware presets (default: the preset's `calibration`)")


def quality_options(args):
    """The driver's QualityOptions from the flags (add_quality's, where the command has them):
    quality.evaluate as step 6 unless --no-eval, its reference cached in --cache-dir."""
    from ..errors import EdgeGemmaError
    from ..export.driver import QualityOptions
    from ..quality import evaluate
    from ..texts import read_text_file

    eval_text, calibration = getattr(args, "eval_text", None), getattr(args, "calibration", None)
    text = read_text_file(eval_text, "evaluation") if eval_text else None
    if calibration is not None and not calibration.is_file():
        raise EdgeGemmaError(f"calibration file {calibration} does not exist; give a UTF-8 text file")
    measure = None if getattr(args, "no_eval", False) else functools.partial(evaluate, cache_dir=args.cache_dir)
    return QualityOptions(measure=measure, text=text, text_name=str(eval_text) if text else None,
                          calibration_file=calibration, accept_quality=getattr(args, "accept_quality", False))


def run(args) -> int:
    from ..export.card import summary_line
    from ..export.driver import ExportPlan, run_export
    from ..layout import default_export_dir, model_yaml_beside
    from ..recipes import load_recipe
    from ..serve.localai import checked_config, write_model_yaml
    from ..sources import parse_source

    recipe = load_recipe(args.model, args.recipes_dir)
    plan = ExportPlan.level(recipe, args.quant, args.format)  # a bad QUANT or format fails before any work
    source = parse_source(args.source or recipe.source)
    output = args.output or default_export_dir(recipe.name, args.quant, args.format)
    yaml_path = model_yaml_beside(output)
    if args.format == "openvino":  # a name LocalAI would reject fails now, not after the export
        checked_config(recipe, output.name, yaml_path, args.localai_device, args.localai_backend)
    manifest = run_export(plan, source, output, args.cache_dir, force=args.force, quality=quality_options(args))
    mb = manifest["total_bytes"] / 1e6
    if "quality" in manifest:
        print(f"{output}: {summary_line(manifest['quality'])}")
    if args.format == "onnx":
        print(f"exported {output} ({mb:.0f} MB); no LocalAI model.yaml: LocalAI's transformers backend "
              f"loads OpenVINO IR, so run this one with `edge-gemma generate {output} ...` (engine ort), "
              "or export FORMAT=openvino for LocalAI")
        return 0
    write_model_yaml(recipe, output.name, yaml_path, args.localai_device, args.localai_backend)
    print(f"exported {output} ({mb:.0f} MB); LocalAI definition beside it: {yaml_path}")
    return 0
