"""Shared fixtures, and the two test tiers.

Expensive fixtures (EXPENSIVE below) are built once per test session: the real Gemma 3 270M
(GGUF from PyPI) is converted once and exported once per quant level and format; tiny
random-weight models of each Gemma family are built to cover their export paths. An export
that `make export` already wrote into exports/ from the same recipe, preset and source, by
the same code and tools, measured on this CPU (export.driver.reusable), is copied instead of
made again: CI's `make export` steps make the suite's int4 and ONNX int8 exports. Every test
that uses one, directly or through another fixture, is marked `slow` here, so `make
test-fast` (`pytest -m "not slow"`) runs the rest in under 2 minutes; `make test` runs all.
A test that is slow without such a fixture says so with `@pytest.mark.slow`.

`make test` runs two pytest-xdist workers (`-n 2 --dist loadscope`: a module's tests stay on
one worker, so its module fixtures are built once). They share the run's base temporary
folder (`shared_dir`): the conversion cache and the real exports are made there by the first
worker that needs them, under a file lock, and copied by each.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
from pathlib import Path

import pytest

from edge_gemma.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
MADE_BY_MAKE = Path(__file__).parent.parent / "exports"  # where `make export` writes
REAL_QUANTS = ("fp16", "int8", "int4")
# Each needs a real export or checkpoint: minutes, once per session.
EXPENSIVE = {"real_exports", "onnx_exports", "npu_export", "gguf_export", "int8_groups_export",
             "onnx_int8_groups_export", "loaded", "real_checkpoint", "tiny_checkpoint",
             "tiny_multimodal_checkpoint"}


def pytest_collection_modifyitems(items):
    for item in items:
        if EXPENSIVE & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@contextlib.contextmanager
def _f32_compute():
    """Models loaded inside compute and keep their KV cache in f32 on CPU.

    For tests of batching, whose point is that concurrent requests never mix: on CPUs with AMX
    the default bf16 rounds a step of several sequences differently from a step of one, which
    parts greedy answers at the int4 export's near-ties (Intel Xeon, 2026-12-01: 2 of 4 prompts
    differed batched; in f32 all 4 were equal).
    """
    load_module = importlib.import_module("edge_gemma.runtime.load")
    plain = load_module.device_config

    def f32(*args, **kwargs):
        config = plain(*args, **kwargs)
        if args and args[0] == "CPU":
            config.update(INFERENCE_PRECISION_HINT="f32", KV_CACHE_PRECISION="f32")
        return config

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(load_module, "device_config", f32)
        yield


@pytest.fixture(scope="session")
def f32_compute():
    """A context manager: models loaded inside it compute in f32 (see _f32_compute)."""
    return _f32_compute


@pytest.fixture(scope="session")
def tokenization_cases() -> list[dict]:
    # llama.cpp's own token ids (with <bos>) for the 270M GGUF; copied from shared/fixtures.
    return json.loads((FIXTURES / "gemma3_gguf_tokenization.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory, worker_id) -> Path:
    """A folder every worker of this run shares (a single process: its own base temp)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@contextlib.contextmanager
def _locked(path: Path):
    """`path`, made by one worker at a time (the others wait, then find it made)."""
    from filelock import FileLock

    with FileLock(str(path) + ".lock"):
        yield path


@pytest.fixture(scope="session")
def cache_dir(shared_dir) -> Path:
    """The conversion cache (GGUF conversions, NNCF statistics, reference logits).

    EDGE_GEMMA_CACHE when set: .ci/run sets it to a fresh folder for its `make export` steps,
    so a CI run converts the GGUF once, in this run, with this code, and the suite checks what
    that conversion made. Otherwise a fresh one for this run, so the conversion runs here."""
    if os.environ.get("EDGE_GEMMA_CACHE"):
        return Path(os.environ["EDGE_GEMMA_CACHE"])
    (shared_dir / "cache").mkdir(exist_ok=True)
    return shared_dir / "cache"


def _export_real(out: Path, quant: str, cache_dir: Path, shared_dir: Path, fmt: str = "openvino") -> Path:
    """A copy in `out` of the real Gemma 3 270M exported at `quant`: the one `make export`
    already made (see the module docstring), or one this run's first worker to need it made
    through the CLI (tests may write into their export, so each gets a copy)."""
    from edge_gemma.export.driver import ExportPlan, reusable
    from edge_gemma.layout import export_name, model_yaml_beside
    from edge_gemma.recipes import load_recipe
    from edge_gemma.sources import parse_source

    recipe = load_recipe("gemma-3-270m")
    name = export_name(recipe.name, quant, fmt)
    made = MADE_BY_MAKE / name
    if not reusable(made, ExportPlan.level(recipe, quant, fmt), parse_source(recipe.source)):
        (shared_dir / "real-exports").mkdir(exist_ok=True)
        with _locked(shared_dir / "real-exports" / name) as made:
            if not made.is_dir():
                argv = ["export", "--format", fmt, "--model", "gemma-3-270m", "--quant", quant, "--output",
                        str(made), "--cache-dir", str(cache_dir)]
                assert main(argv) == 0, f"{fmt} export {quant} failed"
    shutil.copytree(made, out)
    if model_yaml_beside(made).is_file():
        shutil.copy(model_yaml_beside(made), model_yaml_beside(out))
    return out


@pytest.fixture(scope="session")
def real_exports(tmp_path_factory, cache_dir, shared_dir) -> dict[str, Path]:
    """The real Gemma 3 270M exported at fp16, int8 and int4 through the CLI (each with its
    LocalAI model.yaml beside it)."""
    root = tmp_path_factory.mktemp("exports")
    return {quant: _export_real(root / f"gemma-3-270m-{quant}", quant, cache_dir, shared_dir) for quant in REAL_QUANTS}


@pytest.fixture(scope="session")
def npu_export(tmp_path_factory, cache_dir, shared_dir) -> Path:
    """The real Gemma 3 270M exported at int4-npu (the NPU's format, data-aware) through the CLI."""
    return _export_real(tmp_path_factory.mktemp("npu-export") / "gemma-3-270m-int4-npu", "int4-npu", cache_dir,
                        shared_dir)


@pytest.fixture(scope="session")
def gguf_export(tmp_path_factory, cache_dir, shared_dir) -> Path:
    """The real Gemma 3 270M exported at gguf (its GGUF's own blocks) through the CLI."""
    return _export_real(tmp_path_factory.mktemp("gguf-export") / "gemma-3-270m-gguf", "gguf", cache_dir, shared_dir)


@pytest.fixture(scope="session")
def int8_groups_export(tmp_path_factory, cache_dir, shared_dir) -> Path:
    """The real Gemma 3 270M exported at int8-g32 (int8 in groups of 32, Q8_0's form) through the CLI."""
    return _export_real(tmp_path_factory.mktemp("int8-g32-export") / "gemma-3-270m-int8-g32", "int8-g32", cache_dir,
                        shared_dir)


@pytest.fixture(scope="session")
def onnx_int8_groups_export(tmp_path_factory, cache_dir, shared_dir) -> Path:
    """The real Gemma 3 270M exported to ONNX at int8-g32 through the CLI."""
    return _export_real(tmp_path_factory.mktemp("onnx-int8-g32-export") / "gemma-3-270m-int8-g32-onnx", "int8-g32",
                        cache_dir, shared_dir, "onnx")


@pytest.fixture(scope="session")
def onnx_exports(tmp_path_factory, cache_dir, shared_dir) -> dict[str, Path]:
    """The real Gemma 3 270M exported to ONNX at int8 and int4 through the CLI."""
    root = tmp_path_factory.mktemp("onnx-exports")
    return {quant: _export_real(root / f"gemma-3-270m-{quant}-onnx", quant, cache_dir, shared_dir, "onnx")
            for quant in ("int8", "int4")}


@pytest.fixture(scope="session")
def loaded(request, real_exports):
    """The real exports loaded once per (quant, engine) on CPU with 2 threads, shared by tests.

    Engine ort loads the ONNX export of the same quant. Tests that chat must call reset()
    first: the KV cache is the model's state.
    """
    import edge_gemma

    models = {}

    def get(quant: str = "int4", engine: str = "genai"):
        if (quant, engine) not in models:
            folder = (request.getfixturevalue("onnx_exports") if engine == "ort" else real_exports)[quant]
            models[quant, engine] = edge_gemma.load(folder, device="CPU", engine=engine, threads=2)
        return models[quant, engine]

    return get


@pytest.fixture(scope="session")
def real_checkpoint(cache_dir) -> Path:
    """The bf16 Hugging Face checkpoint the GGUF converts to (the PyTorch reference), in the
    session's conversion cache, which the real exports then reuse (one worker converts it:
    the conversion takes a lock of its own, files.one_process_at_a_time)."""
    from edge_gemma.recipes import load_recipe
    from edge_gemma.sources import parse_source, prepare_checkpoint

    return prepare_checkpoint(parse_source(load_recipe("gemma-3-270m").source), cache_dir, log=lambda msg: None)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, real_checkpoint):
    """Build (once) a random-weight checkpoint of a family (tests/tiny_models.py), with the
    real Gemma tokenizer."""
    from tiny_models import tiny_config

    return _tiny_builder(tmp_path_factory, real_checkpoint, tiny_config, "AutoModelForCausalLM")


@pytest.fixture(scope="session")
def tiny_multimodal_checkpoint(tmp_path_factory, real_checkpoint):
    """Build (once) a random-weight multimodal checkpoint (gemma3, gemma4: a small vision tower)."""
    from tiny_models import tiny_multimodal_config

    return _tiny_builder(tmp_path_factory, real_checkpoint, tiny_multimodal_config, "AutoModelForImageTextToText")


def _tiny_builder(tmp_path_factory, real_checkpoint, config_of, model_class: str):
    built = {}

    def build(family: str) -> Path:
        if family not in built:
            import torch
            import transformers

            torch.manual_seed(0)
            folder = tmp_path_factory.mktemp(f"tiny-{family}")
            model = getattr(transformers, model_class).from_config(config_of(family), dtype=torch.bfloat16)
            model.save_pretrained(folder)
            # As Google's checkpoints ship them (tokenizer.model: the SentencePiece tokenizer IR).
            for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"):
                shutil.copy(real_checkpoint / name, folder / name)
            built[family] = folder
        return built[family]

    return build
