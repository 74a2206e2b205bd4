"""The real shapes bench-scale builds (benchmark/scale.py), checked on the meta device."""

from __future__ import annotations

import pytest

from edge_gemma.benchmark.scale import SHAPES, at_depth


def _params(family, dims):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(family, **{"vocab_size": 262144, **dims})
    with torch.device("meta"):
        state = AutoModelForCausalLM.from_config(config).state_dict()
    total = sum(p.numel() for name, p in state.items() if name != "lm_head.weight")  # tied
    tables = sum(p.numel() for name, p in state.items() if "embed_tokens_per_layer" in name)
    return total, tables


# Published sizes: the text decoders' totals (Gemma 4 26B-A4B 25.2 B, 31B 30.7 B; Gemma 3 27B)
# and the per-layer embedding tables of the E-models (field notes: 2.0, 2.35, 2.35, 2.8 B).
@pytest.mark.parametrize("model, total, tables", [
    ("gemma-3-27b-it", 27.0, 0.0), ("gemma-3n-e2b-it", 4.46, 2.01), ("gemma-3n-e4b-it", 6.87, 2.35),
    ("gemma-4-e2b-it", 4.63, 2.35), ("gemma-4-e4b-it", 7.46, 2.82), ("gemma-4-26b-a4b-it", 25.2, 0.0),
    ("gemma-4-31b-it", 30.7, 0.0)])
def test_shapes_have_the_published_sizes(model, total, tables):
    found, found_tables = _params(*SHAPES[model])
    assert found / 1e9 == pytest.approx(total, abs=0.05) and found_tables / 1e9 == pytest.approx(tables, abs=0.01)


def test_a_shallower_copy_keeps_widths_pattern_and_a_valid_kv_sharing():
    family, dims = SHAPES["gemma-4-e2b-it"]
    shallow = at_depth(dims, 10)
    assert shallow["layer_types"] == dims["layer_types"][:10] and shallow["layer_types"][4] == "full_attention"
    assert shallow["num_kv_shared_layers"] == 5  # round(20 * 10 / 35) = 6, but one period stays unshared
    assert shallow["hidden_size"] == dims["hidden_size"]
    _, tables = _params(family, shallow)
    assert tables == 262144 * 10 * 256  # the per-layer table shrinks with the depth
