"""The ONNX Runtime rewrites on small hand-built graphs: same outputs, fused kernels."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from edge_gemma.export.onnx.rewrite import blockwise_int8_matmuls, gather_before_dequantize, share_tied_lm_head

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


def test_rewrites_keep_the_outputs_and_let_onnxruntime_fuse(tied_int8_graph, tmp_path):
    before, ops_before = _run(tied_int8_graph(), tmp_path, "before")
    assert ops_before["MatMulNBits"] == 0  # per-channel DQ is not fused (onnxruntime 1.32)
    model = tied_int8_graph()
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


def test_a_head_that_is_not_the_table_is_not_shared(tied_int8_graph):
    model = tied_int8_graph()
    head = next(i for i in model.graph.initializer if i.name == "head_q")
    values = numpy_helper.to_array(head).copy()
    values[0, 0] ^= 1
    head.CopyFrom(numpy_helper.from_array(values, "head_q"))
    assert share_tied_lm_head(model) == 0
