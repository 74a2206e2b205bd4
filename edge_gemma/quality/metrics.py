"""The figures of llama.cpp's `perplexity --kl-divergence`, from two models' logits.

Per scored position: the reference's and the export's log-probabilities of the next token.
KL is KL(reference || export) = sum_v p_ref(v) * (log p_ref(v) - log p_export(v)), averaged
over positions; top-1 is the share of positions where both argmaxes agree (llama.cpp's
"same top p"); perplexity is exp(mean negative log-likelihood of the actual next token),
for each model, and their ratio.
"""

from __future__ import annotations

import math

import numpy as np


class Scores:
    """Accumulates per-position figures over chunks of text."""

    def __init__(self):
        self.kl: list[np.ndarray] = []
        self.same_top: list[np.ndarray] = []
        self.nll_reference: list[np.ndarray] = []
        self.nll_export: list[np.ndarray] = []

    def add(self, reference_logits: np.ndarray, export_logits: np.ndarray, targets: list[int]) -> None:
        """Row i of each logits array predicts targets[i]."""
        import torch  # its log_softmax uses every core; numpy's takes seconds per chunk at 262k vocab

        # np.array: the reference may be a read-only memory map of the cache (reference.py).
        ref = torch.log_softmax(torch.from_numpy(np.array(reference_logits, np.float32)), -1)
        exp = torch.log_softmax(torch.as_tensor(np.asarray(export_logits, np.float32)), -1)
        rows, targets = torch.arange(len(targets)), torch.as_tensor(targets)
        self.kl.append(torch.sum(ref.exp() * (ref - exp), -1).numpy())
        self.same_top.append((ref.argmax(-1) == exp.argmax(-1)).numpy())
        self.nll_reference.append((-ref[rows, targets]).numpy())
        self.nll_export.append((-exp[rows, targets]).numpy())

    @property
    def tokens(self) -> int:
        return sum(len(k) for k in self.kl)

    def result(self) -> dict:
        kl = np.concatenate(self.kl)
        ppl_ref = math.exp(float(np.concatenate(self.nll_reference).mean()))
        ppl = math.exp(float(np.concatenate(self.nll_export).mean()))
        return {
            "tokens": int(kl.size),
            # KL can come out a hair below 0 in float32 for identical rows; it is >= 0.
            "kl": round(max(float(kl.mean()), 0.0), 6),
            "kl_p99": round(max(float(np.percentile(kl, 99)), 0.0), 6),
            "top1": round(float(np.concatenate(self.same_top).mean()), 6),
            "ppl_reference": round(ppl_ref, 4),
            "ppl": round(ppl, 4),
            "ppl_ratio": round(ppl / ppl_ref, 6),
        }


def greedy_agreement(reference: list[int], export: list[int]) -> int:
    """How many leading tokens two greedy continuations share."""
    return next((i for i, (a, b) in enumerate(zip(reference, export)) if a != b), min(len(reference), len(export)))
