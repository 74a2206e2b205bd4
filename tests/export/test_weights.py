"""The weight walker on small models built here: precision, bytes, and who reads each weight.

OpenVINO: a tiny graph with a tied embedding / LM head, compressed by the real NNCF; ONNX:
NNCF's int8 layout and the project's rewrites (the graph of test_onnx_rewrite); GGUF: a tiny
file written with the gguf package.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_gemma.export.weights import (Weight, bitwidth_stats, bytes_per_token, gguf_bytes_per_token, onnx_scale_gathers,
                                       onnx_weights, openvino_weights, read_weights)

VOCAB, HIDDEN, FFN = 256, 64, 128


def _tiny_ir(tied: bool = True):
    """ids -> Gather(emb) -> MatMul(up) -> MatMul(down) -> MatMul(head), head = emb when tied."""
    import openvino as ov
    from openvino import opset13 as ops

    rng = np.random.default_rng(0)
    ids = ops.parameter([1, -1], ov.Type.i64, name="ids")
    emb = ops.constant(rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32), name="emb")
    x = ops.gather(emb, ids, 0)
    x = ops.matmul(x, ops.constant(rng.standard_normal((FFN, HIDDEN)).astype(np.float32), name="up"), False, True)
    x = ops.matmul(x, ops.constant(rng.standard_normal((HIDDEN, FFN)).astype(np.float32), name="down"), False, True)
    head = emb if tied else ops.constant(rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32), name="head")
    return ov.Model([ops.matmul(x, head, False, True)], [ids], "tiny")


def _by_name(weights: list[Weight]) -> dict[str, Weight]:
    return {w.name: w for w in weights}


def test_float_ir():
    weights = _by_name(openvino_weights(_tiny_ir(tied=False)))
    assert set(weights) == {"emb", "up", "down", "head"}
    assert all(w.precision == "float" and w.bytes == 4 * w.params for w in weights.values())
    assert not weights["emb"].feeds_matmul  # the untied embedding: one row per token
    assert bytes_per_token(list(weights.values())) == 4 * (2 * HIDDEN * FFN + VOCAB * HIDDEN)


def test_nncf_int4_ir_with_a_tied_head(tmp_path):
    import nncf
    import openvino as ov

    model = nncf.compress_weights(_tiny_ir(), mode=nncf.CompressWeightsMode.INT4_SYM, group_size=32, ratio=1.0)
    weights = _by_name(openvino_weights(model))
    # The tied table is one weight, read by the Gather and the LM head MatMul; NNCF keeps it
    # in its int8_asym backup precision.
    assert set(weights) == {"emb", "up", "down"}
    emb, up = weights["emb"], weights["up"]
    assert emb.precision == "int8_asym" and emb.feeds_matmul and emb.params == VOCAB * HIDDEN
    assert weights["down"].precision == up.precision == "int4_sym"
    # int8 tensor + a scale and a zero point per row; int4 tensor (half a byte) + a scale per group.
    assert VOCAB * HIDDEN < emb.bytes < VOCAB * HIDDEN * 1.1
    assert up.params // 2 < up.bytes < up.params * 0.6
    assert bitwidth_stats(list(weights.values())) == {
        "int4_sym": {"params": 2 * HIDDEN * FFN, "layers": 2, "share": 0.5},
        "int8_asym": {"params": VOCAB * HIDDEN, "layers": 1, "share": 0.5}}
    # The same from the saved file; every byte of the .bin is a weight a token reads.
    ov.save_model(model, tmp_path / "m.xml", compress_to_fp16=False)
    saved = read_weights(tmp_path / "m.xml")
    assert saved == list(weights.values())
    assert 0.99 * (tmp_path / "m.bin").stat().st_size < bytes_per_token(saved) <= (tmp_path / "m.bin").stat().st_size


def test_onnx_int8_before_and_after_the_rewrites(tied_int8_graph):
    from edge_gemma.export.onnx.rewrite import blockwise_int8_matmuls, gather_before_dequantize, share_tied_lm_head

    model = tied_int8_graph()
    V, H = next(i.dims for i in model.graph.initializer if i.name == "table_q")
    before = _by_name(onnx_weights(model))
    assert set(before) == {"table_q", "head_q"}
    assert before["table_q"].precision == before["head_q"].precision == "int8_asym"
    assert not before["table_q"].feeds_matmul and before["head_q"].feeds_matmul
    assert before["head_q"].bytes == V * H + 4 * V + V  # uint8 tensor, float scales, uint8 zero points
    blockwise_int8_matmuls(model), gather_before_dequantize(model), share_tied_lm_head(model)
    after = onnx_weights(model)
    # NNCF's per-row scales and zero points, gathered beside the table, are 1-D: not group scales.
    assert onnx_scale_gathers(model.graph) == {}
    # The head now reads the table transposed: one weight, read by a MatMul, stored once.
    assert [(w.name, w.precision, w.feeds_matmul) for w in after] == [("table_q", "int8_asym", True)]
    assert bytes_per_token(after) > V * H


def test_onnx_int4_blocks_count_half_a_byte():
    from onnx import TensorProto, helper, numpy_helper

    q = helper.make_tensor("w_q", TensorProto.INT4, [FFN, HIDDEN], np.zeros(FFN * HIDDEN, np.int8).tolist())
    scale = numpy_helper.from_array(np.ones((FFN // 32, HIDDEN), np.float32), "w_s")
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_s"], ["w"], axis=0, block_size=32),
             helper.make_node("MatMul", ["x", "w"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, FFN])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, HIDDEN])], [q, scale])
    weights = onnx_weights(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    assert weights == [Weight("w_q", "int4_sym", FFN * HIDDEN, FFN * HIDDEN // 2 + 4 * (FFN // 32) * HIDDEN, True)]


@pytest.mark.parametrize("tied", [True, False])
def test_gguf_bytes_per_token(tmp_path, tied):
    import gguf

    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_tensor("token_embd.weight", np.zeros((VOCAB, HIDDEN), np.float32))
    writer.add_tensor("blk.0.ffn_up.weight", np.zeros((FFN, HIDDEN), np.float16))
    if not tied:
        writer.add_tensor("output.weight", np.zeros((VOCAB, HIDDEN), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    ffn = 2 * FFN * HIDDEN
    # Tied: the table is the LM head, read whole; untied: the head is, the table is not.
    assert gguf_bytes_per_token(path) == (4 * VOCAB * HIDDEN + ffn if tied else 2 * VOCAB * HIDDEN + ffn)
