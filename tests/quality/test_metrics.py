"""llama.cpp's KL-divergence figures, checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_gemma.export.card import summary_line
from edge_gemma.quality.evaluate import CHUNK, chunks
from edge_gemma.quality.metrics import Scores, greedy_agreement


def test_identical_models_agree_perfectly():
    logits = np.random.default_rng(0).standard_normal((5, 50)).astype(np.float32)
    scores = Scores()
    scores.add(logits, logits.copy(), [1, 2, 3, 4, 5])
    r = scores.result()
    assert r["kl"] == pytest.approx(0, abs=1e-6) and r["top1"] == 1.0 and r["ppl_ratio"] == pytest.approx(1.0)
    assert r["tokens"] == 5


def test_kl_top1_and_perplexity_by_hand():
    # Two positions over a 2-token vocabulary.
    p = np.array([[0.9, 0.1], [0.5, 0.5]])
    q = np.array([[0.6, 0.4], [0.2, 0.8]])
    scores = Scores()
    scores.add(np.log(p), np.log(q), [0, 1])  # logits = log-probabilities (already normalized)
    r = scores.result()
    kl = [sum(pi * math.log(pi / qi) for pi, qi in zip(pr, qr)) for pr, qr in zip(p, q)]
    assert r["kl"] == pytest.approx(np.mean(kl), rel=1e-4)
    assert r["top1"] == 0.5  # argmax agrees at position 0 (0, 0); at position 1 it is a tie vs 1
    assert r["ppl_reference"] == pytest.approx(math.exp(-(math.log(0.9) + math.log(0.5)) / 2), rel=1e-4)
    assert r["ppl"] == pytest.approx(math.exp(-(math.log(0.6) + math.log(0.8)) / 2), rel=1e-4)
    assert r["ppl_ratio"] == pytest.approx(r["ppl"] / r["ppl_reference"], rel=1e-4)


def test_scores_accumulate_over_chunks():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 8, 30)).astype(np.float32)
    whole, parts = Scores(), Scores()
    whole.add(a, b, list(range(8)))
    parts.add(a[:3], b[:3], list(range(3)))
    parts.add(a[3:], b[3:], list(range(3, 8)))
    assert parts.result() == whole.result()


def test_greedy_agreement_counts_leading_tokens():
    assert greedy_agreement([1, 2, 3, 4], [1, 2, 9, 4]) == 2
    assert greedy_agreement([1, 2, 3], [1, 2, 3]) == 3
    assert greedy_agreement([5], [6]) == 0


def test_summary_line():
    line = summary_line({"kl": 0.0312, "top1": 0.934, "ppl_ratio": 1.024})
    assert line == "quality vs reference: KL 0.0312, top-1 93 %, perplexity +2.4 %"


def test_chunks_start_with_bos_and_cover_the_text():
    ids = list(range(10, 10 + 3 * (CHUNK - 1) + 7))
    got = chunks(ids, bos=2)
    assert len(got) == 3 and all(len(c) == CHUNK and c[0] == 2 for c in got)
    assert [t for c in got for t in c[1:]] == ids[:3 * (CHUNK - 1)]
