"""The ONNX Runtime rewrites on small hand-built graphs: same outputs, fused kernels."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from edge_gemma.onnx_rewrite import blockwise_int8_matmuls, gather_before_dequantize, share_tied_lm_head

VOCAB, HIDDEN = 512, 256


def _graph() -> onnx.ModelProto:
    """ids -> Gather(DQ(table)) -> MatMul(DQ(head)) with NNCF's per-channel int8 layout; the
    head is the table transposed, as for a tied Gemma LM head."""
    rng = np.random.default_rng(0)
    table = rng.integers(0, 256, (VOCAB, HIDDEN), dtype=np.uint8)
    scale = rng.random(VOCAB, dtype=np.float32) / 100
    zero = rng.integers(100, 150, VOCAB, dtype=np.uint8)
    inits = [numpy_helper.from_array(a, n) for a, n in (
        (table, "table_q"), (scale, "table_s"), (zero, "table_z"),
        (np.ascontiguousarray(table.T), "head_q"), (scale, "head_s"), (zero, "head_z"))]
    nodes = [
        helper.make_node("DequantizeLinear", ["table_q", "table_s", "table_z"], ["table"], name="table_dq", axis=0),
        helper.make_node("Gather", ["table", "ids"], ["embedded"], axis=0),
        helper.make_node("DequantizeLinear", ["head_q", "head_s", "head_z"], ["head"], name="head_dq", axis=-1),
        helper.make_node("MatMul", ["embedded", "head"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, "n"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "n", VOCAB])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def _run(model: onnx.ModelProto, tmp_path, name: str, optimize: bool = True) -> tuple[np.ndarray, Counter]:
    path, optimized = tmp_path / f"{name}.onnx", tmp_path / f"{name}-opt.onnx"
    onnx.save(model, path)
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(optimized)
    if not optimize:  # the graph as written, each op by its reference kernel
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out = session.run(None, {"ids": np.array([[1, 7, 300]], np.int64)})[0]
    return out, Counter(n.op_type for n in onnx.load(optimized).graph.node)


def test_rewrites_keep_the_outputs_and_let_onnxruntime_fuse(tmp_path):
    before, ops_before = _run(_graph(), tmp_path, "before")
    assert ops_before["MatMulNBits"] == 0  # per-channel DQ is not fused (onnxruntime 1.32)
    model = _graph()
    assert blockwise_int8_matmuls(model) == 1
    assert gather_before_dequantize(model) == 1
    assert share_tied_lm_head(model) == 1
    assert {i.name for i in model.graph.initializer} >= {"table_q"} and "head_q" not in {
        i.name for i in model.graph.initializer}
    exact, _ = _run(model, tmp_path, "after-plain", optimize=False)
    assert np.allclose(exact, before, atol=1e-4, rtol=1e-5), np.abs(exact - before).max()  # same arithmetic
    fused, ops_after = _run(model, tmp_path, "after")
    assert ops_after["MatMulNBits"] == 1 and ops_after["DequantizeLinear"] == 0
    # MatMulNBits quantizes its activations to int8 (accuracy level 4): seen 0.07 on outputs
    # up to 105 here.
    assert np.abs(fused - before).max() < 2e-3 * np.abs(before).max()


def test_a_head_that_is_not_the_table_is_not_shared():
    model = _graph()
    head = next(i for i in model.graph.initializer if i.name == "head_q")
    values = numpy_helper.to_array(head).copy()
    values[0, 0] ^= 1
    head.CopyFrom(numpy_helper.from_array(values, "head_q"))
    assert share_tied_lm_head(model) == 0
