"""The decode loop of the engines that step a model themselves (optimum, ort)."""

from __future__ import annotations

from collections.abc import Callable

from .options import GenerationOptions
from .sampling import Sampler


def decode(step: Callable[[list[int], int], object], tokens: list[int], in_cache: int,
           options: GenerationOptions, stop_ids: set[int], on_token: Callable[[int], bool]) -> int:
    """Feed tokens[in_cache:], sample, append to `tokens`, repeat; return how many are cached.

    `step(new_ids, total)` runs the model on the ids not yet in its KV cache (`total` tokens
    in all) and returns the last position's logits. Stops at a stop id (unless ignore_eos),
    after max_new_tokens, or when on_token returns True. All tokens but the last end up in the
    KV cache.
    """
    sample = Sampler(options)
    for _ in range(options.max_new_tokens):
        logits = step(tokens[in_cache:], len(tokens))
        in_cache = len(tokens)
        token = sample(logits)
        tokens.append(token)
        if on_token(token) or (token in stop_ids and not options.ignore_eos):
            break
    return in_cache
