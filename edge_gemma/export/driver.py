"""`run_export`: the steps every export takes, around a small per-format backend.

    [1/7] source      resolve the recipe's source to a Hugging Face folder (sources/)
    [2/7] convert     the backend writes an uncompressed model (openvino.py, onnx/)
    [3/7] compress    NNCF compresses its weights as the recipe's preset says (compression.py),
                      on calibration text when the preset is data-aware (calibration.py)
    [4/7] check       the backend checks the result; bitwidths are read back (weights.py)
    [5/7] manifest    manifest.json beside the model (manifest.py)
    [6/7] quality     the export against its reference, into the manifest; a recipe's max_kl
                      fails the export above it. The measurement is quality.evaluate, handed in
                      by the command (QualityOptions.measure): quality/ runs the export through
                      the runtime, two floors above this one
    [7/7] card        README.md, the export's model card (card.py)

What to export is resolved once, by the command, into an ExportPlan (recipe, preset, and the
name it goes by); nothing below looks the preset up again.

Everything is built in a hidden staging folder beside the target and renamed into place at
the end (files.py), so a failed or interrupted export leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..devices import cpu_name
from ..errors import ExportError, QualityError
from ..export_folder import FORMATS, label, read_manifest, save_manifest
from ..families import FAMILIES, Family
from ..files import check_writable_parent, staged_directory
from ..hf_logging import quiet_transformers
from ..recipes import QuantPreset, Recipe
from ..sources import GGUF_KINDS, Source, gguf_file, prepare_checkpoint
from . import calibration, conversions
from .card import summary_line, write_card
from .checkpoint import check_family, checkpoint_view, has_experts
from .compression import head_arguments, nncf_arguments
from .manifest import code_fingerprint, tool_versions, write_manifest
from .onnx.backend import ONNXBackend
from .openvino import OpenVINOBackend
from .weights import bitwidth_stats, bytes_per_token, read_weights

# What to suggest when an export misses its recipe's max_kl.
BETTER = {"int4": "int8", "int4-npu": "int4", "int8": "fp16", "int8-g32": "fp16"}


class Backend(Protocol):
    """What one export format contributes; the driver does the rest."""

    format: str  # the manifest's "format", and the key in BACKENDS
    model_file: str  # the file the runtime opens, relative to the export folder
    convert_step: str  # progress line of step 2
    check_step: str  # progress line of step 4

    def refuse(self, family: Family, preset: QuantPreset) -> str | None:
        """Why this format cannot make the preset of a model of `family` (one line), or None."""

    def convert(self, checkpoint: Path, out: Path, cache_dir: Path) -> tuple[str, dict | None]:
        """Write the uncompressed model into `out`; return the dtype it was loaded in and the
        graph facts for the manifest's section named after the format (None: no section).
        `cache_dir`: where the backend may keep what conversions of other checkpoints share."""

    def calibration_inputs(self, src: Path):
        """A function from a window of token ids to one input of the uncompressed model."""

    def compress(self, checkpoint: Path, src: Path, dst: Path, preset: QuantPreset, *, dataset=None,
                 statistics_path: str | None = None, gguf: Path | None = None) -> dict:
        """Write the compressed model, and the files the runtime needs beside it, into `dst`;
        return what to add to the manifest's compression section. `dataset`: NNCF calibration
        data for data-aware presets; `statistics_path`: NNCF's statistics cache, if supported;
        `gguf`: the source file whose blocks a gguf preset keeps."""

    def check(self, folder: Path, facts: dict | None) -> None:
        """Raise ExportError if the written model is not what the runtime expects."""


# One per export_folder.FORMATS (tests/export/test_driver.py keeps the two in step).
BACKENDS: dict[str, Backend] = {"openvino": OpenVINOBackend(), "onnx": ONNXBackend()}


class StepLog:
    """Numbered progress lines on stderr, each with the time since the export started."""

    def __init__(self, total: int):
        self.total, self.index, self.started = total, 0, time.monotonic()

    def step(self, message: str) -> None:
        self.index += 1
        elapsed = time.monotonic() - self.started
        print(f"[{self.index}/{self.total}] {message} (at {elapsed:.0f}s)", file=sys.stderr, flush=True)

    def info(self, message: str) -> None:
        print(f"      {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ExportPlan:
    """What to export, resolved once by the command that asked for it."""

    recipe: Recipe
    preset: QuantPreset
    quant: str | None  # the recipe's quant level; None for a sweep candidate
    label: str  # what the export is called: the quant level, or the candidate's name
    format: str = "openvino"

    def __post_init__(self):
        if self.format not in BACKENDS:
            raise ExportError(f"unknown format {self.format!r}; choose one of: {', '.join(FORMATS)}")
        refused = BACKENDS[self.format].refuse(FAMILIES[self.recipe.family], self.preset)
        if refused:
            raise ExportError(refused)

    @classmethod
    def level(cls, recipe: Recipe, quant: str, format: str = "openvino") -> ExportPlan:
        """A quant level of the recipe; an unknown level or format fails here, before any work."""
        return cls(recipe, recipe.preset(quant), quant, quant, format)

    @classmethod
    def candidate(cls, recipe: Recipe, name: str, preset: QuantPreset) -> ExportPlan:
        """A sweep candidate: a preset of its own, under its own name (OpenVINO)."""
        return cls(recipe, preset, None, name)


@dataclass(frozen=True)
class Converted:
    """An uncompressed model already written (the sweep converts once, exports many times)."""

    folder: Path
    load_dtype: str
    facts: dict | None


@dataclass(frozen=True)
class QualityOptions:
    # Step 6: quality.evaluate, or None to skip it (for models too big to run twice). Its
    # arguments: the export folder, then text, text_name, checkpoint (the reference) and
    # ir16 (the 16-bit IR, the reference when PyTorch fp32 would not fit) by keyword.
    measure: Callable[..., dict] | None = None
    text: str | None = None  # evaluation text; None: the built-in held-out text
    text_name: str | None = None
    calibration_file: Path | None = None  # the user's calibration text for data-aware presets
    accept_quality: bool = False  # keep an export above its recipe's max_kl


def reusable(folder: Path, plan: ExportPlan, source: Source) -> dict | None:
    """The manifest of a finished export in `folder` of this very plan and source, made by the
    same code and tools and measured on this CPU; else None. What a sweep re-run (--reuse) and
    the test suite after `make export` keep instead of exporting again."""
    try:
        m = read_manifest(folder)
    except (OSError, ValueError):
        return None
    made = (m.get("recipe", {}).get("sha256"), m.get("format"), label(m), m.get("compression", {}).get("preset"),
            m.get("source", {}).get("kind"), m.get("source", {}).get("location"), m.get("code"), m.get("tools"),
            (m.get("quality") or {}).get("cpu"))
    wanted = (plan.recipe.sha256, plan.format, plan.label, vars(plan.preset), source.kind, source.location,
              code_fingerprint(), tool_versions(), cpu_name())
    return m if made == wanted else None


def convert(backend: Backend, view: Path, out: Path, reuse: Converted | None, cache_dir: Path,
            log: StepLog) -> tuple[str, dict | None]:
    """Step 2: write the uncompressed model into `out`: hard-linked from the sweep's own
    conversion (the backend moves files out of `out`, which must not empty the sweep's copy),
    copied from the conversion cache (conversions.py), or converted now and cached."""
    if reuse is not None:
        log.step(f"reusing the converted model in {reuse.folder}")
        for item in reuse.folder.iterdir():
            try:
                os.link(item, out / item.name)
            except OSError:
                shutil.copy2(item, out / item.name)
        return reuse.load_dtype, reuse.facts
    key = conversions.conversion_key(view, backend.format)
    cached = conversions.restore(cache_dir, key, out)
    if cached is not None:
        load_dtype, facts, entry = cached
        log.step(f"{backend.convert_step}: the same conversion is cached, copied from {entry}")
        return load_dtype, facts
    log.step(backend.convert_step)
    with quiet_transformers():
        load_dtype, facts = backend.convert(view, out, cache_dir)
    conversions.store(cache_dir, key, out, load_dtype, facts)
    return load_dtype, facts


def calibration_data(backend: Backend, preset: QuantPreset, view: Path, src: Path, cache_dir: Path,
                     options: QualityOptions, log) -> tuple[object, str | None, dict | None]:
    """NNCF's dataset, the statistics cache path and the manifest's calibration entry (all None
    for a data-free preset)."""
    if not (preset.data_aware or head_arguments(preset) and preset.scale_estimation):
        return None, None, None
    from transformers import AutoTokenizer

    from ..texts import read_text_file

    if options.calibration_file is not None:
        texts, described = [read_text_file(options.calibration_file, "calibration")], str(options.calibration_file)
    else:
        log.info(f"calibration data: {preset.calibration}"
                 + (" (the model generates it: a few minutes)" if preset.calibration == "generated" else ""))
        texts = calibration.calibration_texts(preset.calibration, view, src, preset.subset_size)
        described = preset.calibration
    tokenizer = AutoTokenizer.from_pretrained(view)
    windows = calibration.windows(texts, tokenizer, preset.subset_size)
    dataset = calibration.dataset(windows, backend.calibration_inputs(src))
    statistics = None
    if backend.format == "openvino":
        # Keyed by what the statistics depend on: the checkpoint's weights, the converting
        # tools, the text and its windows, and the preset (which statistics NNCF collects
        # depends on its methods; the head pass runs before them). Not the IR file: two
        # conversions of one checkpoint differ in node names.
        tools = {name: version for name, version in tool_versions().items() if name in ("optimum-intel", "openvino",
                                                                                      "nncf", "transformers")}
        key = calibration.fingerprint(*sorted(view.glob("*.safetensors")), view / "config.json", repr(tools),
                                      *texts, str(calibration.WINDOW), repr(nncf_arguments(preset)),
                                      repr(head_arguments(preset)))
        statistics = str(cache_dir / "nncf-statistics" / key)
    entry = {"source": described, "samples": len(windows), "window_tokens": calibration.WINDOW,
             "tokens": sum(map(len, windows))}
    return dataset, statistics, entry


def measure_quality(result: Path, manifest: dict, plan: ExportPlan, view: Path, ir16: Path | None,
                    options: QualityOptions, log) -> dict:
    """Step 6: the quality section, written into the manifest; the recipe's gate."""
    quality = options.measure(result, text=options.text, text_name=options.text_name, checkpoint=view, ir16=ir16)
    manifest["quality"] = quality
    save_manifest(result, manifest)
    log.info(summary_line(quality))
    preset = plan.preset
    if preset.max_kl and quality["kl"] > preset.max_kl and not options.accept_quality:
        better = BETTER.get(plan.quant)
        raise QualityError(
            f"{manifest['model']} {plan.label}: KL {quality['kl']:.3g} from the reference is above the recipe's max_kl "
            f"{preset.max_kl}; " + (f"export QUANT={better} for a closer model, " if better else "")
            + "or pass --accept-quality to keep it")
    return quality


def run_export(plan: ExportPlan, source: Source, output: Path, cache_dir: Path, *, force: bool = False,
               log: StepLog | None = None, converted: Converted | None = None,
               quality: QualityOptions = QualityOptions()) -> dict:
    """Export `plan` from `source` into `output`; return the manifest written there."""
    recipe, preset, format = plan.recipe, plan.preset, plan.format
    backend = BACKENDS[format]
    if output.exists() and not force:
        raise ExportError(f"{output} already exists; pass FORCE=1 (or --force) to replace it")
    check_writable_parent(output)
    log = log or StepLog(7 if quality.measure else 6)

    if preset.weights == "gguf" and source.kind not in GGUF_KINDS:
        raise ExportError(f"QUANT=gguf keeps a GGUF file's own quantization, and {source.location} is a {source.kind} "
                          "source: give SOURCE=<file.gguf>, or pick QUANT=int8 or int4")

    log.step(f"source: {source.kind} {source.location}")
    with quiet_transformers():
        checkpoint = prepare_checkpoint(source, cache_dir, log.info)
        # The file prepare_checkpoint has just assembled: found again, so not logged again.
        gguf = gguf_file(source, cache_dir, lambda _: None) if preset.weights == "gguf" else None
    check_family(checkpoint, recipe)
    if preset.int8_groups and has_experts(checkpoint):  # before the conversion, the long part
        raise ExportError(f"{recipe.name} is a mixture of experts, whose fused expert weights int8 in groups "
                          "does not write: pick QUANT=int8 (NNCF compresses them a layer at a time)")
    with staged_directory(output) as (work, result):
        view = checkpoint_view(checkpoint, recipe, work / "checkpoint")
        uncompressed = work / "uncompressed"
        uncompressed.mkdir()
        load_dtype, facts = convert(backend, view, uncompressed, converted, cache_dir, log)
        nncf_args, head_args = nncf_arguments(preset), head_arguments(preset)
        if gguf is not None:
            log.step(f"keeping the weights' own quantization from {gguf.name} (no NNCF)")
        elif preset.int8_groups:
            log.step(f"writing every weight as int8 in groups of {preset.group_size}, llama.cpp's Q8_0 form (no NNCF)")
        else:
            log.step(f"compressing weights with NNCF: {nncf_args or 'none (fp16)'}"
                     + (f"; embedding / LM head: {head_args}" if head_args else ""))
        with quiet_transformers():
            dataset, statistics, calibrated = calibration_data(backend, preset, view, uncompressed, cache_dir,
                                                               quality, log)
        extra = backend.compress(view, uncompressed, result, preset, dataset=dataset, statistics_path=statistics,
                                 gguf=gguf)
        log.step(backend.check_step)
        backend.check(result, facts)
        weights = read_weights(result / backend.model_file)
        log.step("writing manifest.json")
        compression = {"preset": vars(preset).copy(), "nncf": nncf_args, "bitwidth": bitwidth_stats(weights),
                       "bytes_per_token": bytes_per_token(weights), **extra}
        if head_args:
            compression["head"] = head_args
        if calibrated:
            compression["calibration"] = calibrated
        manifest = write_manifest(
            result,
            model=recipe.name,
            quant=plan.quant,
            **({"candidate": plan.label} if plan.quant is None else {}),
            format=format,
            recipe=recipe.as_dict(),
            source={"kind": source.kind, "location": source.location, "checkpoint": str(checkpoint),
                    "load_dtype": load_dtype},
            compression=compression,
            **({format: facts} if facts is not None else {}),
        )
        if quality.measure:
            log.step("measuring quality against the reference (edge-gemma eval)")
            ir16 = uncompressed if format == "openvino" and preset.weights != "fp16" else None
            measure_quality(result, manifest, plan, view, ir16, quality, log)
        shutil.rmtree(uncompressed)
        log.step("writing the model card (README.md)")
        write_card(result, manifest)
    return manifest
