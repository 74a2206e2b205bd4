"""The optimum engine's slice before the LM head, on small OpenVINO graphs built here."""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from edge_gemma.runtime.engines.optimum import last_position_logits

HIDDEN, VOCAB = 8, 32


def _model(softcap: bool) -> ov.Model:
    rng = np.random.default_rng(0)
    hidden = ops.parameter([1, -1, HIDDEN], np.float32, name="hidden")
    logits = ops.matmul(ops.relu(hidden), ops.constant(rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32)),
                        False, True)
    if softcap:  # Gemma 2: tanh(logits / cap) * cap; the cap first, and behind a Convert, as exports have it
        cap = ops.convert(ops.constant(np.float16(30.0)), np.float32)
        logits = ops.multiply(cap, ops.tanh(ops.divide(logits, np.float32(30.0))))
    result = ops.result(logits)
    result.output(0).get_tensor().set_names({"logits"})
    return ov.Model([result], [hidden])


@pytest.mark.parametrize("softcap", [False, True])
def test_only_the_last_position_is_computed_and_it_is_unchanged(softcap):
    x = np.random.default_rng(1).standard_normal((1, 5, HIDDEN)).astype(np.float32)
    full = ov.Core().compile_model(_model(softcap), "CPU")(x)[0]
    model = _model(softcap)
    last_position_logits(model)
    sliced = ov.Core().compile_model(model, "CPU")(x)[0]
    assert full.shape == (1, 5, VOCAB) and sliced.shape == (1, 1, VOCAB)
    np.testing.assert_allclose(sliced[0, 0], full[0, -1], rtol=1e-5, atol=1e-5)


def test_a_graph_without_an_lm_head_matmul_is_an_error():
    hidden = ops.parameter([1, -1, HIDDEN], np.float32)
    result = ops.result(ops.add(hidden, hidden))
    result.output(0).get_tensor().set_names({"logits"})
    with pytest.raises(ValueError, match="no LM head MatMul"):
        last_position_logits(ov.Model([result], [hidden]))
