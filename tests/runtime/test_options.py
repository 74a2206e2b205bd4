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


def test_a_reply_that_repeats_itself_verbatim_is_found():
    from edge_gemma.runtime.options import repeats_itself

    hi_quality = [3, 17, 99]  # "Hi", "-", "quality": the base model's answer to "Hi", 60 times over
    assert repeats_itself([5, 6] + hi_quality * 11)  # 33 tokens of one block
    assert not repeats_itself([5, 6] + hi_quality * 10)  # 30: not yet past REPEAT_TOKENS
    assert repeats_itself([7] * 32) and not repeats_itself([7] * 31)
    assert not repeats_itself(list(range(200)))  # varied text
    assert repeats_itself(list(range(40)) * 4)  # a 40-token paragraph four times
    assert not repeats_itself(list(range(40)) * 3)


def test_checkpoint_sampling_defaults(tmp_path):
    import json

    from edge_gemma.runtime.options import checkpoint_sampling

    assert checkpoint_sampling(tmp_path) == {}  # no generation_config.json: greedy
    config = tmp_path / "generation_config.json"
    config.write_text(json.dumps({"bos_token_id": 2, "eos_token_id": [1, 106]}))  # a GGUF-converted one
    assert checkpoint_sampling(tmp_path) == {}
    config.write_text(json.dumps({"do_sample": True, "top_k": 64, "top_p": 0.95}))  # Gemma 3's -it checkpoints
    assert checkpoint_sampling(tmp_path) == {"temperature": 1.0, "top_k": 64, "top_p": 0.95}
    config.write_text(json.dumps({"do_sample": True, "temperature": 0.7, "top_p": 1.0, "top_k": 0}))
    assert checkpoint_sampling(tmp_path) == {"temperature": 0.7}
    GenerationOptions(**checkpoint_sampling(tmp_path))  # valid options
    config.write_text("{not json")
    assert checkpoint_sampling(tmp_path) == {}
