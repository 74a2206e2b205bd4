"""Big Gather tables compressed a block of rows at a time (export/tables.py) hold the very bits
NNCF writes when it compresses them whole."""

from __future__ import annotations

import numpy as np
import pytest

from edge_gemma.export.compression import compress
from edge_gemma.export.tables import big_tables, compress_tables, table_mode
from edge_gemma.recipes import QuantPreset

ROWS, WIDTH = 20000, 64


def _table(values: np.ndarray, dtype: str, name: str):
    """A Constant holding `values` as fp16 or bf16 (bf16: the export's tables, optimum_gemma.py 6.)."""
    import openvino as ov
    import openvino.opset13 as ops

    if dtype == "f16":
        return ops.constant(values.astype(np.float16), name=name)
    tensor = ov.Tensor(ov.Type.bf16, ov.Shape(list(values.shape)))
    tensor.data[...] = (values.view(np.uint32) >> 16).astype(np.uint16).view(tensor.data.dtype)  # truncated
    constant = ov.op.Constant(tensor)
    constant.set_friendly_name(name)
    return constant


def _model(dtype: str = "f16"):
    """ids -> a Gather-only table (the per-layer embedding's place) and a tied table read by a
    Gather and a MatMul (the embedding and LM head), both 16-bit (`dtype`) and widened by a
    Convert as the export writes them, with two decoder MatMuls between (NNCF's choice of the
    last MatMul's bits depends on them)."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    table = rng.standard_normal((ROWS, WIDTH), dtype=np.float32) * 0.02
    tied = rng.standard_normal((ROWS, WIDTH), dtype=np.float32) * 0.02
    ids = ops.parameter([1, -1], ov.Type.i64, name="ids")
    per_layer = ops.gather(ops.convert(_table(table, dtype, "embed_tokens_per_layer"), ov.Type.f32), ids, 0)
    embedding = ops.convert(_table(tied, dtype, "embed_tokens"), ov.Type.f32)
    hidden = ops.add(ops.gather(embedding, ids, 0), per_layer)
    for layer in range(2):
        weight = (rng.standard_normal((WIDTH, WIDTH), dtype=np.float32) * 0.1).astype(np.float16)
        weight = ops.convert(ops.constant(weight, name=f"layers.{layer}.mlp.weight"), ov.Type.f32)
        hidden = ops.matmul(hidden, weight, transpose_a=False, transpose_b=True, name=f"layers.{layer}.mlp/MatMul")
    logits = ops.matmul(hidden, embedding, transpose_a=False, transpose_b=True)
    return ov.Model([logits], [ids])


def _constants(model) -> dict:
    return {op.get_friendly_name(): op.get_data().copy() for op in model.get_ordered_ops()
            if op.get_type_name() == "Constant" and op.get_byte_size() > 1000}


def _logits(model):
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(np.array([[1, 7, 19999, 5]]))[0]


TABLES = ["embed_tokens", "embed_tokens_per_layer"]  # sorted


def test_the_embeddings_are_taken_tied_or_not_and_no_decoder_weight():
    assert sorted(c.get_friendly_name() for c in big_tables(_model(), min_bytes=1 << 20)) == TABLES
    assert big_tables(_model(), min_bytes=64 << 20) == []  # under the threshold: NNCF's own


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
@pytest.mark.parametrize("preset", [QuantPreset(weights="int8"), QuantPreset(weights="int8", sym=True),
                                    QuantPreset(weights="int4", group_size=32, backup="int8_asym")],
                         ids=["int8_asym", "int8_sym", "int4 with int8_asym backup"])
def test_block_by_block_gives_nncfs_own_bits(preset, dtype):
    whole = compress(_model(dtype), preset)
    model = _model(dtype)
    tables, ran = compress_tables(model, preset, min_bytes=1 << 20)
    assert sorted(tables) == TABLES
    # The tied head left NNCF's view: for int4, all_layers keeps the last decoder MatMul int4.
    assert ran.all_layers == (preset.weights == "int4")
    blocks = compress(model, ran)  # NNCF leaves the compressed tables and does the rest
    expected, got = _constants(whole), _constants(blocks)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name].dtype == expected[name].dtype and np.array_equal(got[name], expected[name]), name
    for table in TABLES:
        assert got[table].dtype == (np.int8 if preset.sym and preset.weights == "int8" else np.uint8)
    assert np.array_equal(_logits(blocks), _logits(whole))


def test_table_precision_follows_what_nncf_would_give_it():
    assert table_mode(QuantPreset(weights="int8", sym=True)) == "int8_sym"
    assert table_mode(QuantPreset(weights="int4", backup="int8_sym")) == "int8_sym"
    assert table_mode(QuantPreset(weights="int4", all_layers=True)) is None  # int4 table: NNCF's
    assert table_mode(QuantPreset(weights="int4", backup="none")) is None
    assert table_mode(QuantPreset(weights="fp16")) is None
    assert compress_tables(_model(), QuantPreset(weights="int8", uncompressed=".*per_layer.*"),
                           min_bytes=1 << 20)[0] == ["embed_tokens"]


def test_a_tied_table_is_left_to_nncf_when_another_embedding_is():
    # all_layers would put that other embedding in int4, so NNCF keeps its own last-MatMul rule.
    preset = QuantPreset(weights="int4", group_size=32, backup="int8_asym", uncompressed=".*per_layer.*")
    assert compress_tables(_model(), preset, min_bytes=1 << 20) == ([], preset)


def test_a_head_preset_gives_a_table_its_head_precision():
    # compression.HEAD names `embed_tokens_per_layer` too: the head pass's precision is its own.
    assert table_mode(QuantPreset(weights="int4", head="int8_sym"), "embed_tokens_per_layer") == "int8_sym"
    assert table_mode(QuantPreset(weights="int4", head="int4_sym"), "embed_tokens_per_layer") is None
    assert table_mode(QuantPreset(weights="int4", head="int8_sym"), "some_other_table") == "int8_asym"
    preset = QuantPreset(weights="int4", group_size=32, head="int8_sym")
    whole, model = compress(_model(), preset), _model()
    tables, ran = compress_tables(model, preset, min_bytes=1 << 20)
    assert sorted(tables) == TABLES
    expected, got = _constants(whole), _constants(compress(model, ran))
    assert sorted(got) == sorted(expected) and all(np.array_equal(got[n], expected[n]) for n in expected)


def test_uncompressed_matches_the_table_or_its_gather_as_nncf_does():
    # NNCF's ignored scope matches from the start of a name (re.match), the weight's or its op's.
    for pattern in ("embed_tokens_per", ".*Gather.*"):
        assert compress_tables(_model(), QuantPreset(weights="int8", uncompressed=pattern),
                               min_bytes=1 << 20)[0] == ([] if pattern == ".*Gather.*" else ["embed_tokens"])
