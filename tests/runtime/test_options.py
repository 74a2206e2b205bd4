"""GenerationOptions validation and the numpy sampler the optimum engine uses."""

from __future__ import annotations

import numpy as np
import pytest

from edge_gemma.errors import GenerationError
from edge_gemma.runtime.options import GenerationOptions
from edge_gemma.runtime.sampling import Sampler


def test_defaults_are_greedy():
    options = GenerationOptions()
    assert options.greedy and options.max_new_tokens == 256 and options.stop == ()


def test_all_bad_values_are_reported_at_once():
    with pytest.raises(GenerationError) as err:
        GenerationOptions(max_new_tokens=0, temperature=-1, top_p=0, top_k=-2, stop=[""])
    message = str(err.value)
    for part in ("max_new_tokens", "temperature", "top_p", "top_k", "stop strings"):
        assert part in message


LOGITS = np.array([0.0, 3.0, 2.9, -1.0, 1.0], dtype=np.float32)


def test_greedy_and_top_k_1_pick_the_argmax():
    assert Sampler(GenerationOptions())(LOGITS) == 1
    assert {Sampler(GenerationOptions(temperature=1.0, top_k=1, seed=s))(LOGITS) for s in range(20)} == {1}


def test_top_p_keeps_the_smallest_nucleus():
    # at temperature 1 token 1 holds 0.47 of the mass and tokens 1 and 2 hold 0.90
    assert {Sampler(GenerationOptions(temperature=1.0, top_p=0.45, seed=s))(LOGITS) for s in range(20)} == {1}
    picks = {Sampler(GenerationOptions(temperature=1.0, top_p=0.85, seed=s))(LOGITS) for s in range(50)}
    assert picks == {1, 2}


def test_seed_makes_samples_repeatable():
    def draw(seed):
        sample = Sampler(GenerationOptions(temperature=2.0, seed=seed))
        return [sample(LOGITS) for _ in range(30)]

    assert draw(7) == draw(7)
    assert len(set(draw(7))) > 1  # high temperature really samples
