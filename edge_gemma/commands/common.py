"""What several subcommands share: argument types and groups, and finding the export they act on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import recipes
from ..devices import DEVICE_CHOICES, normalize_device
from ..errors import DeviceError, EdgeGemmaError, RuntimeCheckError
from ..export_folder import FORMATS
from ..layout import DEFAULT_MODEL, DEFAULT_QUANT, default_cache_dir, default_export_dir, export_name

QUANT_HELP = f"one of {', '.join(recipes.QUANT_LEVELS)}"


def at_least(minimum: int):
    """An argparse type: a whole number >= minimum."""
    def parse(value: str) -> int:
        if not value.isdigit() or int(value) < minimum:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= {minimum}")
        return int(value)

    return parse


def localai_device(value: str) -> str:
    """An argparse type: an OpenVINO device string, normalized (gpu.1 -> GPU.1)."""
    try:
        return normalize_device(value)
    except DeviceError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_localai_device(p, what: str) -> None:
    p.add_argument("--localai-device", type=localai_device, metavar="DEVICE",
                   help=f"the device LocalAI should run {what} on, written as main_gpu in model.yaml ({DEVICE_CHOICES})")


def add_localai_backend(p, *aliases: str) -> None:
    from ..serve.localai import BACKENDS, DEFAULT_BACKEND

    p.add_argument("--localai-backend", *aliases, dest="localai_backend", choices=list(BACKENDS),
                   default=DEFAULT_BACKEND, help="the LocalAI backend model.yaml names: transformers (LocalAI's own, "
                   "the default) or edge-gemma (ours: `edge-gemma localai-backend`, see README)")


def add_cache_dir(p) -> None:
    p.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                   help="GGUF conversions, NNCF statistics and reference logits (default: EDGE_GEMMA_CACHE or "
                        "~/.cache/edge_gemma)")


def add_export_dir(p) -> None:
    """An export folder, or --model/--quant/--format naming the one `make export` wrote."""
    p.add_argument("export_dir", nargs="?", type=Path,
                   help="an export folder; or name it with --model/--quant/--format (default: "
                        f"{export_name(DEFAULT_MODEL, DEFAULT_QUANT)} in exports/)")
    p.add_argument("--model", help=f"recipe name (default {DEFAULT_MODEL})")
    p.add_argument("--quant", help=f"{QUANT_HELP} (default {DEFAULT_QUANT})")
    p.add_argument("--format", choices=FORMATS, help=f"{' or '.join(FORMATS)} (default openvino)")


def add_runtime(p) -> None:
    """add_export_dir plus how to load it: device, engine, threads, hint, context, attention."""
    from ..runtime.engines import DEFAULT_ENGINE, ENGINES

    add_export_dir(p)
    p.add_argument("--device", default="AUTO", help="AUTO (GPU, then NPU, then CPU), CPU, GPU, GPU.<n> or NPU")
    defaults = ", ".join(f"{engine} for {fmt}" for fmt, engine in DEFAULT_ENGINE.items())
    p.add_argument("--engine", choices=list(ENGINES), help=f"default: {defaults} exports")
    p.add_argument("--threads", type=int, help="CPU inference threads (default: OpenVINO's choice)")
    p.add_argument("--hint", choices=["LATENCY", "THROUGHPUT"], help="OpenVINO performance hint (default LATENCY)")
    p.add_argument("--max-context", type=at_least(2),
                   help="cap the context (prompt plus answer) below the recipe's; the KV cache grows up to it")
    p.add_argument("--attention", choices=["SDPA", "PA"],
                   help="openvino-genai's attention backend (default: SDPA on CPU, openvino-genai's on GPU)")
    p.add_argument("--no-compiled-cache", action="store_true",
                   help="compile the model afresh instead of keeping it in the edge-gemma cache")


def add_generation(p, max_new_tokens: int) -> None:
    """Sampling options. Unset ones take the checkpoint's generation_config.json defaults, else greedy."""
    p.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    p.add_argument("--temperature", type=float,
                   help="0 = greedy (default: the checkpoint's generation_config.json, else greedy)")
    p.add_argument("--top-p", type=float)
    p.add_argument("--top-k", type=int, help="0 = no limit")
    p.add_argument("--seed", type=int, help="sampling seed, for repeatable samples")
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    p.add_argument("--keep-repeats", action="store_true",
                   help="decode to the token limit even when the answer repeats itself verbatim")


def export_dir(args) -> Path:
    """The folder given, or the one `make export` writes for --model/--quant/--format."""
    named = [flag for flag in ("model", "quant", "format") if getattr(args, flag)]
    if args.export_dir is not None:
        if named:
            raise EdgeGemmaError(f"give an export folder or --{'/--'.join(named)}, not both")
        return args.export_dir
    recipe = recipes.load_recipe(args.model or DEFAULT_MODEL, args.recipes_dir)
    quant = args.quant or DEFAULT_QUANT
    recipe.preset(quant)  # an unknown QUANT names the valid ones
    folder = default_export_dir(recipe.name, quant, args.format or "openvino")
    if not folder.exists():
        make = f"make export MODEL={recipe.name} QUANT={quant}" + (" FORMAT=onnx" if args.format == "onnx" else "")
        raise RuntimeCheckError(f"{folder} does not exist; make it with `{make}`, or give an export folder")
    return folder


def load_model(args, note=None):
    """The export `args` name, loaded as --device/--engine/... say. One line on stderr says what
    was loaded, where and why, plus `note(model)` when that gives one."""
    from ..runtime import load

    model = load(export_dir(args), device=args.device, engine=args.engine, threads=args.threads, hint=args.hint,
                 max_context=args.max_context, attention=args.attention, compiled_cache=not args.no_compiled_cache)
    extra = note(model) if note else None
    print(f"edge-gemma: {model!r}; {model.device_reason}" + (f"; {extra}" if extra else ""), file=sys.stderr)
    return model


def generation_options(args, model) -> tuple[dict, str | None]:
    """GenerationOptions for generate/chat, and a note saying where their sampling came from: the
    flags given, then the checkpoint's sampling defaults (generation_config.json, as Gemma's -it
    checkpoints ship), then greedy."""
    from ..runtime.options import checkpoint_sampling

    given = {k: getattr(args, k) for k in ("temperature", "top_p", "top_k") if getattr(args, k) is not None}
    defaults = checkpoint_sampling(model.info.dir) if "temperature" not in given else {}
    note = ("sampling as the checkpoint's generation_config.json says ("
            + ", ".join(f"{k} {v}" for k, v in defaults.items()) + "; --temperature 0 for greedy)") if defaults else None
    options = dict({**defaults, **given}, max_new_tokens=args.max_new_tokens, seed=args.seed, stop=tuple(args.stop),
                   stop_repeats=not args.keep_repeats)
    return options, note


def write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()
