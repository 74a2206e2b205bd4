"""LocalAI's request messages, read into what the runtime takes. Plain functions over the
protobuf messages (or anything with the same attributes), unit-tested without a model.

LocalAI fills the messages from the model.yaml and the API request (core/backend/options.go
upstream): `Model` is `parameters.model`, `ModelFile` is it joined to the models directory,
`ModelPath` is that directory; `MainGPU`, `ContextSize`, `Threads` and `Options` come from the
yaml; a PredictOptions always carries a `Seed` (random when the yaml sets none).
"""

from __future__ import annotations

from pathlib import Path

from ..devices import normalize_device
from ..errors import DeviceError, RuntimeCheckError
from ..export_folder import MANIFEST
from ..runtime.engines import ENGINES

# The yaml's `options:` list entries ("key:value") this backend reads; anything else is refused,
# since LocalAI passes the list on unchecked and a typo would otherwise change nothing silently.
OPTION_KEYS = {"engine": "an engine for OpenVINO exports: genai or optimum",
               "hint": "LATENCY or THROUGHPUT"}


def model_dir(model: str, model_file: str, model_path: str) -> Path:
    """The export folder a LoadModel names: `ModelFile` (LocalAI's absolute path), else `Model`
    inside `ModelPath`, else `Model` as given. RuntimeCheckError naming what was tried."""
    tried = []
    for candidate in (model_file, model_path and model and str(Path(model_path) / model), model):
        if candidate and candidate not in tried:
            tried.append(candidate)
            if (Path(candidate) / MANIFEST).is_file():
                return Path(candidate)
    if not tried:
        raise RuntimeCheckError("LoadModel names no model; set parameters.model in the model.yaml to the "
                                "export folder's name")
    raise RuntimeCheckError(f"no edge-gemma export at {' or '.join(tried)}; point parameters.model at an export "
                            "folder inside LocalAI's models directory (`edge-gemma export` writes one)")


def parse_options(options) -> dict[str, str]:
    """The yaml's `options:` ("key:value" strings) as a dict; RuntimeCheckError for unknown keys."""
    parsed, problems = {}, []
    for option in options:
        key, sep, value = option.partition(":")
        if not sep or key.strip() not in OPTION_KEYS:
            problems.append(repr(option))
        else:
            parsed[key.strip()] = value.strip()
    if problems:
        known = "; ".join(f"{k}:<{v}>" for k, v in OPTION_KEYS.items())
        raise RuntimeCheckError(f"unknown option(s) {', '.join(problems)} in the model.yaml's options; "
                                f"this backend reads {known}")
    engine = parsed.get("engine")
    if engine is not None and (engine not in ENGINES or ENGINES[engine].format != "openvino"):
        raise RuntimeCheckError(f"options engine:{engine} is not an engine for OpenVINO exports; use genai or optimum")
    return parsed


def load_settings(request) -> dict:
    """Device, threads, engine and hint for `edge_gemma.load` from a ModelOptions.

    An empty MainGPU means AUTO (GPU, then NPU, then CPU). Threads are kept for the server to
    apply only on CPU: LocalAI always sends them, and the runtime refuses them elsewhere.
    """
    try:
        device = normalize_device(request.MainGPU) if request.MainGPU.strip() else "AUTO"
    except DeviceError as err:
        raise DeviceError(f"main_gpu: {err}") from None
    options = parse_options(request.Options)
    return {"device": device, "threads": request.Threads if request.Threads > 0 else None,
            "engine": options.get("engine"), "hint": options.get("hint")}


def context_size(requested: int, trained: int) -> int:
    """LocalAI's ContextSize (0: unset), capped at what the model was trained for."""
    return min(requested, trained) if requested > 0 else trained


def messages(request) -> list[dict] | None:
    """The chat to template, or None when the request is a raw prompt.

    LocalAI sends Messages with UseTokenizerTemplate for chat models that use the tokenizer's
    template, and an empty Prompt then; a non-empty Prompt wins, as in LocalAI's own backends.
    """
    if request.Prompt or not (request.UseTokenizerTemplate and request.Messages):
        return None
    return [{"role": m.role, "content": m.content} for m in request.Messages]


def generation_options(request, prompt_tokens: int, context: int) -> dict:
    """GenerationOptions for a PredictOptions.

    Tokens 0 means "up to the end of the context", as LocalAI's transformers backend does.
    Temperature 0 is greedy; TopP outside (0, 1] and TopK <= 0 mean no limit.
    """
    tokens = request.Tokens if request.Tokens > 0 else max(1, context - prompt_tokens)
    return dict(max_new_tokens=tokens, temperature=max(0.0, request.Temperature),
                top_p=request.TopP if 0 < request.TopP <= 1 else 1.0, top_k=max(0, request.TopK),
                seed=request.Seed if request.Seed >= 0 else None, stop=tuple(s for s in request.StopPrompts if s),
                ignore_eos=request.IgnoreEOS)
