"""The engines whose decode loop runs in Python (optimum, ort): one base class for both.

A subclass says how to run the model on the ids not yet in its KV cache (`_step`) and how to
empty that cache (`_clear`); the base keeps the token sequence and runs the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..options import GenerationOptions
from ..sampling import Sampler


class SteppedEngine:
    def __init__(self, export_dir: Path):
        self.export_dir = export_dir
        self.tokens: list[int] = []  # the sequence so far; all but the last are in the KV cache
        self._in_cache = 0

    def tokenizer(self):
        """transformers' tokenizer: these engines import transformers anyway."""
        from ..tokenizer import hf_tokenizer

        return hf_tokenizer(self.export_dir)

    def _step(self, new_ids: list[int], total: int) -> np.ndarray:
        """Run the model on `new_ids` (`total` tokens in all, the rest cached); the last logits."""
        raise NotImplementedError

    def _clear(self) -> None:
        """Empty the KV cache."""

    def reset(self) -> None:
        self.tokens, self._in_cache = [], 0
        self._clear()

    def generate(self, new_ids: list[int], options: GenerationOptions, stop_ids: set[int],
                 on_token: Callable[[int], bool]) -> None:
        """Append `new_ids`, then feed what is not cached, sample, append, repeat.

        Stops at a stop id (unless options.ignore_eos), after max_new_tokens, or when
        on_token returns True. All tokens but the last end up in the KV cache.
        """
        self.tokens += new_ids
        sample = Sampler(options)
        for _ in range(options.max_new_tokens):
            logits = self._step(self.tokens[self._in_cache:], len(self.tokens))
            self._in_cache = len(self.tokens)
            token = sample(logits)
            self.tokens.append(token)
            if on_token(token) or (token in stop_ids and not options.ignore_eos):
                break
