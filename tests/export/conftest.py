"""Small hand-built models shared by the export tests (cheap: the fast tier uses them)."""

from __future__ import annotations

import numpy as np
import pytest

VOCAB, HIDDEN = 512, 256


@pytest.fixture
def tied_int8_graph():
    """A builder of fresh copies of a small ONNX graph in NNCF's per-channel int8 layout:
    ids -> Gather(DQ(table)) -> MatMul(DQ(head)), the head being the table transposed, as for
    a tied Gemma LM head."""
    return _graph


def _graph():
    from onnx import TensorProto, helper, numpy_helper

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
