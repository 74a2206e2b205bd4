"""A data-aware preset keeps AWQ only where its rescaled copies fit (export/awq_memory.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edge_gemma.export.awq_memory import awq_copy_bytes, awq_need, compressed_bytes, fit_awq
from edge_gemma.recipes import QuantPreset, load_recipe


def _model():
    """One Gemma-named MLP (gate, up, down: 64 x 256 fp16 each) and an attention weight."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, 64], ov.Type.f32)

    def linear(inp, name, rows, cols):
        weight = ops.constant(np.zeros((rows, cols), np.float16), name=f"self.model.layers.0.{name}._openvino_orig_weight")
        return ops.matmul(inp, ops.convert(weight, ov.Type.f32), False, True)

    hidden = linear(x, "self_attn.o_proj", 64, 64)
    mlp = ops.multiply(linear(hidden, "mlp.gate_proj", 256, 64), linear(hidden, "mlp.up_proj", 256, 64))
    return ov.Model([linear(mlp, "mlp.down_proj", 64, 256)], [x])


def test_awq_copies_are_the_up_and_down_projections():
    assert awq_copy_bytes(_model()) == 2 * 64 * 256 * 2


def test_compressed_bytes_count_the_layers_at_their_bits():
    values = 3 * 64 * 256 + 64 * 64
    assert compressed_bytes(_model()) == (values // 2, 0)
    assert compressed_bytes(_model(), 8) == (values, 0)


def _gemma(hidden, intermediate, q, kv, layers, vocab):
    """(AWQ's copies, int4 layers, int8 table) in bytes for a Gemma of these widths, as awq_memory counts them."""
    per_layer = hidden * (q + 2 * kv) + q * hidden + 3 * hidden * intermediate
    return 2 * hidden * intermediate * 2 * layers, per_layer * layers // 2, vocab * hidden


GiB = 2**30
# Peak anonymous memory of data-aware int4 exports with AWQ (random weights in the real shapes,
# AMD EPYC, docs/families.md and docs/quality.md): measured, or the line through two depths.
MEASURED = [
    ("gemma-3-4b whole", _gemma(2560, 10240, 2048, 1024, 34, 262144), 9.1 * GiB),
    ("gemma-3-12b at 10 layers", _gemma(3840, 15360, 4096, 2048, 10, 262144), 8.2 * GiB),
    ("gemma-3-12b at 48 layers (line)", _gemma(3840, 15360, 4096, 2048, 48, 262144), 22.8 * GiB),
    ("gemma-2-9b at 10 layers", _gemma(3584, 14336, 4096, 2048, 10, 256000), 6.7 * GiB),
    ("gemma-2-9b at 42 layers (line)", _gemma(3584, 14336, 4096, 2048, 42, 256000), 13.1 * GiB),
]


@pytest.mark.parametrize("name,sizes,peak", MEASURED, ids=[m[0] for m in MEASURED])
def test_the_rule_asks_at_least_what_was_measured(name, sizes, peak):
    assert awq_need(*sizes) >= peak


def test_gemma_3_4b_keeps_awq_on_a_16_gb_laptop():
    # About 12.5 GiB is free on a 16 GB laptop with a desktop running; 4B whole peaked at 9.1.
    assert awq_need(*MEASURED[0][1]) <= 12.5 * GiB


def test_awq_is_dropped_only_when_its_copies_do_not_fit():
    preset = load_recipe("gemma-2-9b-it").quant["int4"]
    need = awq_need(awq_copy_bytes(_model()), *compressed_bytes(_model()))
    assert fit_awq(_model(), preset, need) == (preset, None)
    ran, why = fit_awq(_model(), preset, need - 1)
    assert not ran.awq and ran.scale_estimation and "AWQ dropped" in why and "GB" in why
    assert fit_awq(_model(), preset, None) == (preset, None)  # unknown: the recipe as written
    data_free = QuantPreset(weights="int4")
    assert fit_awq(_model(), data_free, 0) == (data_free, None)


def test_a_memory_ceiling_is_what_is_available():
    from edge_gemma.memory import memory_ceiling, memory_cgroup_root
    from edge_gemma.errors import EdgeGemmaError

    try:
        memory_cgroup_root()
    except EdgeGemmaError:
        pytest.skip("no writable memory cgroup here (needs Linux and root)")
    code = "from edge_gemma.memory import available_memory; print(available_memory())"
    with memory_ceiling(512 << 20) as ceiling:
        out = subprocess.run([sys.executable, "-c", code], preexec_fn=ceiling.enter, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 0 < int(out.stdout) <= 512 << 20
