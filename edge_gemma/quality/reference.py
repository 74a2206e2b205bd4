"""The reference side of an evaluation, computed once per checkpoint and text, and cached.

An evaluation needs the reference's logits at every scored position of the text and its greedy
continuations of a few prompts. They depend only on the checkpoint, which reference runs it
(models.py: PyTorch fp32, or the 16-bit IR in f32 when that would not fit), the tools that run
it and the token ids, so they are kept on disk under a key of exactly those, made the way NNCF's
statistics cache key is (export/calibration.fingerprint). The exports of one checkpoint, at
every quant level and in both formats, then run the reference once.

Logits are stored as the float32 the reference returned, so a cached evaluation gives the very
figures a fresh one does. That costs 4 bytes x vocabulary per scored token (4.8 GB for Gemma's
262144 tokens on the built-in text), so only the KEEP most recently used entries are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import QualityError
from ..files import CACHE_FIX, keep_most_recent, one_process_at_a_time, staged_directory
from .models import reference_kind, reference_model

KEEP = 2  # entries kept in the cache, most recently used first


@dataclass(frozen=True)
class Reference:
    describe: str  # what the reference was, for the quality section
    logits: list[np.ndarray]  # per chunk: the rows that predict chunk[1:] (memory-mapped from the cache)
    greedy: list[list[int]]  # per prompt: its greedy continuation


def _key(checkpoint: Path | None, ir16: Path | None, kind: str, chunks: list[list[int]], prompts: list[list[int]],
         greedy_tokens: int) -> str:
    from ..export.calibration import fingerprint
    from ..export.manifest import tool_versions

    tools = {k: v for k, v in tool_versions().items()
             if k in ("torch", "transformers", "openvino", "optimum-intel", "edge-gemma")}
    if checkpoint is not None:
        weights = sorted(checkpoint.glob("*.safetensors")) + [checkpoint / "config.json"]
    else:  # the 16-bit IR stands for the checkpoint
        weights = [ir16 / "openvino_model.bin"] if ir16 is not None else []
    return fingerprint(*weights, kind, repr(tools), json.dumps(chunks), json.dumps(prompts), str(greedy_tokens))


def _compute(model, chunks: list[list[int]], prompts: list[list[int]], greedy_tokens: int, folder: Path) -> None:
    for i, chunk in enumerate(tqdm(chunks, desc="reference", unit="chunk", file=sys.stderr)):
        np.save(folder / f"chunk-{i:03d}.npy", np.ascontiguousarray(model.logits(chunk)[:-1], np.float32))
    greedy = [model.greedy(p, greedy_tokens) for p in prompts]
    (folder / "reference.json").write_text(json.dumps({"describe": model.describe, "greedy": greedy}))


def _read(folder: Path, count: int) -> Reference:
    meta = json.loads((folder / "reference.json").read_text())
    logits = [np.load(folder / f"chunk-{i:03d}.npy", mmap_mode="r") for i in range(count)]
    return Reference(meta["describe"], logits, meta["greedy"])


def reference(checkpoint: Path | None, ir16: Path | None, chunks: list[list[int]], prompts: list[list[int]],
              greedy_tokens: int, cache_dir: Path, log=print) -> Reference:
    """The reference's logits for `chunks` and its greedy continuations of `prompts`, from the
    cache in `cache_dir`/reference or computed there now."""
    model_kind = reference_kind(checkpoint, ir16)
    if model_kind is None:
        raise QualityError(f"the reference checkpoint {checkpoint} is gone; re-export to rebuild it, "
                           "or pass --checkpoint DIR (the Hugging Face folder the export was made from)")
    root = Path(cache_dir) / "reference"
    target = root / _key(checkpoint if checkpoint and checkpoint.is_dir() else None, ir16, model_kind, chunks,
                         prompts, greedy_tokens)
    with one_process_at_a_time(target):  # two exports measured together compute it once
        if (target / "reference.json").is_file():
            log(f"reference logits from the cache: {target}")
            os.utime(target)  # most recently used
            return _read(target, len(chunks))
        shutil.rmtree(target, ignore_errors=True)  # a damaged entry: staged_directory keeps existing ones
        model = reference_model(checkpoint, ir16)
        with staged_directory(target, fix=CACHE_FIX, keep_existing=True) as (_, folder):
            _compute(model, chunks, prompts, greedy_tokens, folder)
        del model
    keep_most_recent(root, KEEP)
    return _read(target, len(chunks))
