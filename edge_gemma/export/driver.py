"""`run_export`: the steps every export takes, around a small per-format backend.

    [1/5] source      resolve the recipe's source to a Hugging Face folder (sources/)
    [2/5] convert     the backend writes an uncompressed model (openvino.py, onnx/)
    [3/5] compress    NNCF compresses its weights as the recipe's preset says (compression.py)
    [4/5] check       the backend checks the result; bitwidths are read back (weights.py)
    [5/5] manifest    manifest.json beside the model (manifest.py)

Everything is built in a hidden staging folder beside the target and renamed into place at
the end (files.py), so a failed or interrupted export leaves nothing behind.
"""

from __future__ import annotations

import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from ..errors import ExportError
from ..files import check_writable_parent, staged_directory
from ..layout import FORMATS
from ..recipes import QuantPreset, Recipe
from ..sources import Source, prepare_checkpoint
from .checkpoint import check_family, checkpoint_view
from .compression import nncf_arguments
from .manifest import write_manifest
from .onnx.backend import ONNXBackend
from .openvino import OpenVINOBackend
from .weights import bitwidth_stats, read_weights


class Backend(Protocol):
    """What one export format contributes; the driver does the rest."""

    format: str  # the manifest's "format", and the key in BACKENDS
    model_file: str  # the file the runtime opens, relative to the export folder
    convert_step: str  # progress line of step 2
    check_step: str  # progress line of step 4

    def refuse(self, preset: QuantPreset) -> str | None:
        """Why this format cannot make the preset (one line), or None."""

    def convert(self, checkpoint: Path, out: Path) -> tuple[str, dict | None]:
        """Write the uncompressed model into `out`; return the dtype it was loaded in and the
        graph facts for the manifest's section named after the format (None: no section)."""

    def compress(self, checkpoint: Path, src: Path, dst: Path, preset: QuantPreset) -> dict:
        """Write the compressed model, and the files the runtime needs beside it, into `dst`;
        return what to add to the manifest's compression section."""

    def check(self, folder: Path, facts: dict | None) -> None:
        """Raise ExportError if the written model is not what the runtime expects."""


# One per layout.FORMATS (tests/export/test_driver.py keeps the two in step).
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


@contextmanager
def quiet_transformers():
    """Hide transformers' warnings while it loads and traces for us.

    transformers 5.0.0 warns "`torch_dtype` is deprecated" (optimum-intel 2.2.0 passes that
    key itself) and "`loss_type=None` was set in the config" (tracing touches the loss) on
    every export; neither is the user's to act on. Its errors still show; progress bars stay.
    """
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


def run_export(recipe: Recipe, quant: str, source: Source, output: Path, cache_dir: Path, *,
               format: str = "openvino", force: bool = False, log: StepLog | None = None) -> dict:
    """Export `recipe` at `quant` from `source` into `output`; return the manifest written there."""
    if format not in BACKENDS:
        raise ExportError(f"unknown format {format!r}; choose one of: {', '.join(FORMATS)}")
    backend = BACKENDS[format]
    preset = recipe.preset(quant)
    refused = backend.refuse(preset)
    if refused:
        raise ExportError(refused)
    if output.exists() and not force:
        raise ExportError(f"{output} already exists; pass FORCE=1 (or --force) to replace it")
    check_writable_parent(output)
    log = log or StepLog(5)

    log.step(f"source: {source.kind} {source.location}")
    with quiet_transformers():
        checkpoint = prepare_checkpoint(source, cache_dir, log.info)
    check_family(checkpoint, recipe)
    with staged_directory(output) as (work, result):
        view = checkpoint_view(checkpoint, recipe, work / "checkpoint")
        log.step(backend.convert_step)
        uncompressed = work / "uncompressed"
        uncompressed.mkdir()
        with quiet_transformers():
            load_dtype, facts = backend.convert(view, uncompressed)
        nncf_args = nncf_arguments(preset)
        log.step(f"compressing weights with NNCF: {nncf_args or 'none (fp16)'}")
        extra = backend.compress(view, uncompressed, result, preset)
        shutil.rmtree(uncompressed)  # frees the disk before the check (16 GB for a 9B model)
        log.step(backend.check_step)
        backend.check(result, facts)
        bitwidths = bitwidth_stats(read_weights(result / backend.model_file))
        log.step("writing manifest.json")
        manifest = write_manifest(
            result,
            model=recipe.name,
            quant=quant,
            format=format,
            recipe=recipe.as_dict(),
            source={"kind": source.kind, "location": source.location, "checkpoint": str(checkpoint),
                    "load_dtype": load_dtype},
            compression={"preset": vars(preset).copy(), "nncf": nncf_args, "bitwidth": bitwidths, **extra},
            **({format: facts} if facts is not None else {}),
        )
    return manifest
