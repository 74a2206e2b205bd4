"""Next-token choice from a row of logits, for engines that hand us logits (optimum).

Same order as transformers' and openvino.genai's samplers: temperature, then top-k, then
top-p (nucleus), then a multinomial draw. openvino.genai samples in C++ with its own RNG, so
the two engines agree token for token only when greedy.
"""

from __future__ import annotations

import numpy as np

from .options import GenerationOptions


class Sampler:
    def __init__(self, options: GenerationOptions):
        self.options = options
        self.rng = np.random.default_rng(options.seed)

    def __call__(self, logits: np.ndarray) -> int:
        if self.options.greedy:
            return int(np.argmax(logits))
        scores = logits.astype(np.float64) / self.options.temperature
        if self.options.top_k and self.options.top_k < scores.size:
            kth = np.partition(scores, -self.options.top_k)[-self.options.top_k]
            scores = np.where(scores < kth, -np.inf, scores)
        order = np.argsort(scores)[::-1]
        probs = np.exp(scores[order] - scores[order[0]])
        probs /= probs.sum()
        if self.options.top_p < 1.0:
            # Keep the smallest prefix whose mass reaches top_p (always at least one token).
            keep = int(np.searchsorted(np.cumsum(probs), self.options.top_p)) + 1
            probs = probs[:keep] / probs[:keep].sum()
            order = order[:keep]
        return int(order[self.rng.choice(len(probs), p=probs)])
