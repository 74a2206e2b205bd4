"""llama.cpp measured exactly as our exports are: a GGUF file's logits at every position of the
same chunks, against the same cached reference (evaluate.py), through llama-cpp-python.

The chunks are cut by the export's tokenizer, which reproduces llama.cpp's token ids
(tests/sources/test_gguf_tokenizer.py), so both sides score the same tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import QualityError
from .evaluate import GREEDY_TOKENS, Inputs, greedy_scores, logit_scores, prepare

LLAMA_FIX = "install it with `make install-llama` (compiles llama.cpp, about 10 minutes)"


class LlamaCppModel:
    """A GGUF in llama.cpp with every position's logits kept (logits_all), on the CPU."""

    def __init__(self, gguf: Path, threads: int | None, n_ctx: int):
        try:
            from llama_cpp import Llama
        except ImportError:
            raise QualityError(f"measuring a GGUF in llama.cpp needs llama-cpp-python; {LLAMA_FIX}") from None
        threads = threads or None
        # flash_attn as in the benchmark (measure.py), so the figures are the runtime's.
        self.llm = Llama(model_path=str(gguf), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, logits_all=True,
                         n_threads=threads, n_threads_batch=threads, flash_attn=True, verbose=False)
        self.precision = "llama.cpp CPU"

    def logits(self, ids: list[int]) -> np.ndarray:
        self.llm.reset()
        self.llm.eval(ids)
        return np.array(self.llm.scores[:len(ids)])

    def greedy(self, ids: list[int], n: int) -> list[int]:
        self.llm.reset()  # generate(reset=True) still reuses a matching prefix (0.3.36)
        out = []
        for token in self.llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, reset=True):
            out.append(int(token))
            if len(out) == n:
                break
        return out


def evaluate_gguf(gguf: Path, like: Path, *, threads: int | None = None, cache_dir: Path | None = None,
                  text: str | None = None, text_name: str | None = None) -> dict:
    """A `quality` section for `gguf` run by llama.cpp, on the text, reference and chunks that
    the export `like` was (or would be) measured with."""
    inputs: Inputs = prepare(like, text=text, text_name=text_name, cache_dir=cache_dir)
    n_ctx = max(max(map(len, inputs.pieces)), max(len(p) for p in inputs.prompts) + GREEDY_TOKENS)
    model = LlamaCppModel(gguf, threads, n_ctx)
    return {**logit_scores(model, inputs), **greedy_scores(inputs, model.greedy),
            "precision": model.precision, "engine": "llama.cpp"}
