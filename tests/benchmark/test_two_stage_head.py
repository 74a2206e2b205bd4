"""The two-stage head experiment's IR rewrite, on a one-MatMul head built in the test."""

from __future__ import annotations

import numpy as np
import pytest

from edge_gemma.benchmark.two_stage_head import coarse_blocks, rewrite
from edge_gemma.errors import ExportError

ROWS, COLUMNS = 512, 64


def _head(codes, zero_point, scale):
    """hidden [B, S, COLUMNS] -> logits [B, S, ROWS] through NNCF's u8 decompression chain."""
    import openvino as ov
    import openvino.opset13 as ops

    hidden = ops.parameter([-1, -1, COLUMNS], ov.Type.f32, name="hidden")
    weight = ops.convert(ops.constant(codes, dtype=ov.Type.u8), ov.Type.f16)
    weight = ops.multiply(ops.subtract(weight, ops.constant(zero_point)), ops.constant(scale))
    logits = ops.matmul(hidden, ops.convert(weight, ov.Type.f32), False, True)
    logits.output(0).set_names({"logits"})
    return ov.Model([ops.result(logits)], [hidden])


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (ROWS, COLUMNS), dtype=np.uint8)
    zero_point = rng.integers(120, 136, (ROWS, 1)).astype(np.float16)
    scale = (rng.random((ROWS, 1)) * 0.01 + 0.001).astype(np.float16)
    values = (codes.astype(np.float32) - zero_point.astype(np.float32)) * scale.astype(np.float32)
    return codes, zero_point, scale, values


def _run(model, x):
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(x)[0]


def test_top_k_rows_are_exact_and_the_rest_coarse(table):
    codes, zero_point, scale, values = table
    x = np.random.default_rng(1).standard_normal((1, 3, COLUMNS)).astype(np.float32)
    model = _head(codes, zero_point, scale)
    sizes = rewrite(model, k=16, group=32)
    got = _run(model, x)[0]
    exact = x[0] @ values.T
    coarse = x[0] @ coarse_blocks(values, 32).values().T
    assert sizes["coarse_mb"] == pytest.approx((ROWS * COLUMNS / 2 + ROWS * 2 * 4) / 1e6)
    for position in range(3):
        top = set(np.argsort(-coarse[position])[:16])
        for row in range(ROWS):
            want = exact if row in top else coarse
            assert got[position, row] == pytest.approx(want[position, row], abs=1e-3), (position, row)
    # The coarse copy is not the table: the exact rows do change the logits.
    assert np.abs(coarse - exact).max() > 1e-2


def test_with_every_row_re_scored_the_head_is_the_int8_head(table):
    codes, zero_point, scale, values = table
    x = np.random.default_rng(2).standard_normal((2, 4, COLUMNS)).astype(np.float32)
    model = _head(codes, zero_point, scale)
    rewrite(model, k=ROWS, group=0)
    np.testing.assert_allclose(_run(model, x), x @ values.T, atol=1e-3)


def test_a_head_that_is_not_int8_is_refused():
    import openvino as ov
    import openvino.opset13 as ops

    hidden = ops.parameter([-1, -1, COLUMNS], ov.Type.f32)
    logits = ops.matmul(hidden, ops.constant(np.ones((ROWS, COLUMNS), np.float32)), False, True)
    logits.output(0).set_names({"logits"})
    with pytest.raises(ExportError, match="rewrites an int8 head"):
        rewrite(ov.Model([ops.result(logits)], [hidden]), k=8, group=0)


def test_sliced_as_genai_slices_it_the_head_scores_the_last_position(table):
    """openvino-genai walks Result <- Add <- MatMul and slices the MatMul's input to the last
    position (find_llm_matmul); the exact stage must follow, giving the full graph's last row."""
    import openvino.opset13 as ops

    codes, zero_point, scale, values = table
    x = np.random.default_rng(3).standard_normal((1, 5, COLUMNS)).astype(np.float32)
    model = _head(codes, zero_point, scale)
    rewrite(model, k=16, group=64, sym=True)
    full = _run(model, x)[0]
    add = model.get_results()[0].input_value(0).get_node()
    matmul = add.input_value(0).get_node()
    assert (add.get_type_name(), matmul.get_type_name()) == ("Add", "MatMul")
    hidden = matmul.input_value(0)
    last = ops.slice(hidden, np.int64([-1]), np.int64([np.iinfo(np.int64).max]), np.int64([1]), np.int64([1]))
    matmul.input(0).replace_source_output(last.output(0))
    model.validate_nodes_and_infer_types()
    sliced = _run(model, x)[0]
    assert sliced.shape == (1, ROWS)
    np.testing.assert_allclose(sliced[0], full[-1], atol=1e-3)
    # The symmetric coarse copy: i4 codes, no zero point.
    blocks = coarse_blocks(values, 64, sym=True)
    assert blocks.zero_point is None and blocks.codes.min() >= -8 and blocks.codes.max() <= 7


def test_a_folder_without_an_ir_is_a_one_line_error_and_writes_nothing(tmp_path, capsys):
    from edge_gemma.benchmark.two_stage_head import main

    assert main([str(tmp_path / "missing"), str(tmp_path / "out")]) == 1
    assert "has no openvino_model.xml" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
