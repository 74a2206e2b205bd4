"""`evaluate`: how far an export's predictions are from the model it was made from.

The held-out text is cut into chunks of CHUNK tokens, each starting with <bos>; both models
see every chunk, and every position after the first is scored (metrics.py has the
definitions, llama.cpp's). Greedy agreement: the first GREEDY_TOKENS greedy tokens of the
reference and of the export run by the runtime's default engine, on a few prompts. The
reference's side is computed once per checkpoint and text and cached (reference.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

from tqdm.auto import tqdm

from ..devices import cpu_name
from ..errors import QualityError
from ..export_folder import read_export
from ..layout import default_cache_dir
from ..texts import heldout_text
from ..texts.prompts import ACCURACY_PROMPTS
from .metrics import Scores, greedy_agreement
from .models import export_model
from .reference import reference

CHUNK = 512  # Gemma 3's sliding window: every model sees the whole chunk the same way
GREEDY_TOKENS = 32
GREEDY_PROMPTS = ACCURACY_PROMPTS[:4]
MIN_TOKENS = 2 * CHUNK


def chunks(ids: list[int], bos: int) -> list[list[int]]:
    step = CHUNK - 1
    return [[bos] + ids[i:i + step] for i in range(0, len(ids) - step + 1, step)]


class Inputs(NamedTuple):
    """What both sides of an evaluation see: the text's chunks, the greedy prompts, the
    reference's side of them (cached), and how to name the text."""
    pieces: list[list[int]]
    prompts: list[list[int]]
    ref: object  # reference.Reference
    text: str


def prepare(export_dir: Path, *, text: str | None = None, text_name: str | None = None,
            checkpoint: Path | None = None, ir16: Path | None = None, cache_dir: Path | None = None) -> Inputs:
    """Cut the text with the export's tokenizer; the reference is the checkpoint its manifest
    names unless `checkpoint` is given."""
    from transformers import AutoTokenizer

    info = read_export(export_dir)
    if checkpoint is None and info.manifest["source"].get("checkpoint"):
        checkpoint = Path(info.manifest["source"]["checkpoint"])
    tokenizer = AutoTokenizer.from_pretrained(export_dir)
    if text is None:
        text, text_name = heldout_text(), "built-in held-out text (edge_gemma/texts/data/heldout.txt)"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) < MIN_TOKENS:
        raise QualityError(f"the evaluation text has {len(ids)} tokens; give at least {MIN_TOKENS} (--text FILE)")
    bos = tokenizer.bos_token_id
    pieces = chunks(ids, bos)
    prompts = [[bos] + tokenizer(p, add_special_tokens=False)["input_ids"] for p in GREEDY_PROMPTS]
    ref = reference(checkpoint, ir16, pieces, prompts, GREEDY_TOKENS, cache_dir or default_cache_dir(),
                    log=lambda msg: print(f"      {msg}", file=sys.stderr, flush=True))
    return Inputs(pieces, prompts, ref, f"{text_name} ({len(ids)} tokens, chunks of {CHUNK})")


def logit_scores(model, inputs: Inputs) -> dict:
    """metrics.Scores' figures of `model` (its .logits(ids): every position's), and what was compared."""
    scores = Scores()
    for chunk, expected_logits in tqdm(list(zip(inputs.pieces, inputs.ref.logits)), desc="evaluating",
                                       unit="chunk", file=sys.stderr):
        scores.add(expected_logits, model.logits(chunk)[:-1], chunk[1:])
    return {**scores.result(), "reference": inputs.ref.describe, "text": inputs.text, "device": "CPU",
            "cpu": cpu_name()}


def greedy_scores(inputs: Inputs, generate) -> dict:
    """How many leading greedy tokens `generate(prompt_ids, n)` shares with the reference's."""
    agreed = [greedy_agreement(want, generate(p, GREEDY_TOKENS)) for p, want in zip(inputs.prompts, inputs.ref.greedy)]
    return {"greedy_agreement": round(sum(agreed) / len(agreed), 2), "greedy_tokens": GREEDY_TOKENS,
            "greedy_per_prompt": agreed}


def evaluate(export_dir: Path, *, text: str | None = None, text_name: str | None = None,
             checkpoint: Path | None = None, ir16: Path | None = None, threads: int | None = None,
             cache_dir: Path | None = None) -> dict:
    """The export's `quality` section: metrics.Scores' figures plus greedy agreement and what
    was compared. `checkpoint` defaults to the one the manifest names; `ir16` (a 16-bit IR
    folder) is the reference when PyTorch fp32 would not fit in memory; `cache_dir` holds the
    reference's cached logits (default: the edge-gemma cache)."""
    from ..runtime import load

    inputs = prepare(export_dir, text=text, text_name=text_name, checkpoint=checkpoint, ir16=ir16,
                     cache_dir=cache_dir)
    model = export_model(export_dir, read_export(export_dir), threads)
    scores = logit_scores(model, inputs)
    precision = model.precision
    del model  # the runtime loads the export again, its own way

    runtime = load(export_dir, device="CPU", threads=threads)
    agreement = greedy_scores(inputs, lambda ids, n: runtime.generate_tokens(ids, max_new_tokens=n, ignore_eos=True))
    return {**scores, **agreement, "precision": precision, "engine": runtime.engine.name}
