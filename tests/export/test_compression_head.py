"""The embedding / LM head compressed apart from the decoder layers, by real NNCF on a small
OpenVINO graph shaped like Gemma's (one table for the Gather and the tied LM head)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_gemma.export.compression import compress, head_arguments, nncf_arguments
from edge_gemma.export.weights import openvino_weights
from edge_gemma.recipes import QuantPreset

VOCAB, HIDDEN = 1024, 128


def _graph():
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    ids = ops.parameter([1, -1], ov.Type.i64, name="input_ids")
    table = ops.constant(rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32))
    table.set_friendly_name("embed_tokens.weight")
    x = ops.gather(table, ids, 0)
    x.set_friendly_name("__module.model.embed_tokens/aten::embedding/Gather")
    for i in range(2):
        w = ops.constant(rng.standard_normal((HIDDEN, HIDDEN)).astype(np.float32))
        w.set_friendly_name(f"layers.{i}.weight")
        x = ops.matmul(x, w, False, True)
        x.set_friendly_name(f"__module.model.layers.{i}.mlp.down_proj/ov_ext::linear/MatMul")
    logits = ops.matmul(x, table, False, True)
    logits.set_friendly_name("__module.lm_head/ov_ext::linear/MatMul")
    return ov.Model([logits], [ids], "tied")


def _precisions(model) -> dict[str, str]:
    return {w.name: w.precision for w in openvino_weights(model)}


def test_head_arguments_are_plain_data():
    preset = QuantPreset(weights="int8", head="int4_sym", head_group_size=32)
    assert head_arguments(preset) == {"mode": "int4_sym", "group_size": 32, "ratio": 1.0, "all_layers": True,
                                      "ignored_patterns": [r".*layers\.[0-9]+[./].*"]}
    assert nncf_arguments(preset) == {"mode": "int8_asym", "ignored_patterns": [r".*(embed_tokens|lm_head).*"]}
    assert head_arguments(QuantPreset(weights="int4")) is None
    assert nncf_arguments(QuantPreset(weights="int4", group_size=32, awq=True, scale_estimation=True,
                                      subset_size=64)) == {
        "mode": "int4_asym", "group_size": 32, "ratio": 1.0, "all_layers": False, "backup_mode": "int8_asym",
        "awq": True, "scale_estimation": True, "subset_size": 64}


@pytest.mark.parametrize("preset, head, layers", [
    (QuantPreset(weights="int8", head="int4_sym", head_group_size=32), "int4_sym", "int8_asym"),
    (QuantPreset(weights="int4", sym=True, group_size=32, head="int8_sym"), "int8_sym", "int4_sym"),
    (QuantPreset(weights="int4", sym=True, group_size=32), "int8_asym", "int4_sym"),  # NNCF's default head
])
def test_head_and_layers_get_their_own_precision(preset, head, layers):
    found = _precisions(compress(_graph(), preset))
    assert len(found) == 3, found  # the tied table is one weight
    heads = [p for name, p in found.items() if "layers." not in name]
    assert heads == [head]
    assert sorted(p for name, p in found.items() if "layers." in name) == [layers, layers]
