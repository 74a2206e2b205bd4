"""int8 in groups for ONNX (export/onnx/int8_groups.py): Q8_0's numbers in standard ops, fused by ONNX Runtime."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_gemma.errors import ExportError
from edge_gemma.export.int8_groups import quantize_groups
from edge_gemma.export.onnx.int8_groups import write_int8_groups_onnx
from edge_gemma.export.weights import onnx_weights

VOCAB, HIDDEN = 96, 64


def _decoder(table: np.ndarray, up: np.ndarray, head: np.ndarray, up_twice: bool = False,
             extra: list | None = None) -> onnx.ModelProto:
    """ids -> Gather(table) -> MatMul(up) [-> MatMul(up) again] -> MatMul(head): an embedding,
    a layer (or two sharing a weight) and a head, as traced (fp32)."""
    nodes = [helper.make_node("Gather", ["table", "ids"], ["x"], axis=0),
             helper.make_node("MatMul", ["x", "up"], ["h"])]
    if up_twice:
        nodes.append(helper.make_node("MatMul", ["h", "up"], ["h2"]))
    nodes += [helper.make_node("MatMul", ["h2" if up_twice else "h", "head"], ["logits"]), *(extra or [])]
    inits = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(up, "up"),
             numpy_helper.from_array(head, "head")]
    outputs = [helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None) for n in [nodes[-1]]]
    graph = helper.make_graph(nodes, "decoder", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, None])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def _written(tmp_path, tied: bool = True, group: int = 32, hidden: int = HIDDEN,
             **graph) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    table = rng.normal(0, 0.05, (VOCAB, hidden)).astype(np.float32)
    up = rng.normal(0, 0.05, (hidden, hidden)).astype(np.float32)
    head = table.T.copy() if tied else rng.normal(0, 0.05, (hidden, VOCAB)).astype(np.float32)
    model = _decoder(table, up, head, **graph)
    src, dst = tmp_path / "trace" / "model.onnx", tmp_path / "out" / "model.onnx"
    src.parent.mkdir()
    dst.parent.mkdir()
    onnx.save(model, src, save_as_external_data=True, location="model.onnx.data", size_threshold=0)
    done = write_int8_groups_onnx(src, dst, group)
    return done, table, up, head


def _run(path, optimize: bool, ids) -> tuple[np.ndarray, Counter]:
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(path.with_name("optimized.onnx"))
    if not optimize:  # each op by its reference kernel: the arithmetic as written
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out = session.run(None, {"ids": ids})[0]
    return out, Counter(n.op_type for n in onnx.load(options.optimized_model_filepath, load_external_data=False).graph.node)


def _values(rows: np.ndarray, group: int = 32) -> np.ndarray:
    """rows [n, width] as int8 groups compute them: Q8_0's values."""
    return quantize_groups(rows, group).values()


def test_the_graph_computes_q8_0_values_and_onnxruntime_fuses_every_matmul(tmp_path):
    done, table, up, head = _written(tmp_path)
    assert done["weights"] == 2 and done["tied_head_shared"] == 1 and done["one_group_per_row"] == []
    path = tmp_path / "out" / "model.onnx"
    ids = np.array([[1, 7, 95]], np.int64)
    table_q, up_q = _values(table), _values(up.T).T  # a MatMul weight's groups run along its inputs
    expected = table_q[ids[0]] @ up_q @ table_q.T
    exact, _ = _run(path, optimize=False, ids=ids)
    np.testing.assert_allclose(exact[0], expected, rtol=1e-4, atol=1e-6)
    fused, ops = _run(path, optimize=True, ids=ids)
    assert ops["MatMulNBits"] == 2 and ops["DequantizeLinear"] == 0 and ops["MatMul"] == 0, ops
    # MatMulNBits rounds its activations to int8 (accuracy level 4), as llama.cpp's Q8_0 kernels do.
    assert np.abs(fused - exact).max() < 2e-2 * np.abs(exact).max()


def test_the_tied_head_is_stored_once_and_counted_once(tmp_path):
    _written(tmp_path)
    model = onnx.load(tmp_path / "out" / "model.onnx", load_external_data=False)
    names = {i.name for i in model.graph.initializer}
    assert {"table_int8", "table_scale", "up_int8", "up_scale"} <= names and not {"table", "up", "head"} & names
    found = {w.name: w for w in onnx_weights(model)}
    assert set(found) == {"table_int8", "up_int8"}
    table = found["table_int8"]
    assert table.precision == "int8_sym" and table.feeds_matmul and table.params == VOCAB * HIDDEN
    assert table.bytes == VOCAB * HIDDEN + VOCAB * HIDDEN // 32 * 4  # codes and the f32 scales


def test_an_untied_head_gets_its_own_groups(tmp_path):
    done, table, up, head = _written(tmp_path, tied=False)
    assert done["weights"] == 3 and done["tied_head_shared"] == 0
    ids = np.array([[3, 4]], np.int64)
    exact, _ = _run(tmp_path / "out" / "model.onnx", optimize=False, ids=ids)
    expected = _values(table)[ids[0]] @ _values(up.T).T @ _values(head.T).T
    np.testing.assert_allclose(exact[0], expected, rtol=1e-4, atol=1e-6)
    found = onnx_weights(onnx.load(tmp_path / "out" / "model.onnx", load_external_data=False))
    assert {(w.name, w.precision, w.bytes) for w in found} == {  # each with its f32 scales
        ("table_int8", "int8_sym", VOCAB * HIDDEN * 9 // 8), ("up_int8", "int8_sym", HIDDEN * HIDDEN * 9 // 8),
        ("head_int8", "int8_sym", HIDDEN * VOCAB * 9 // 8)}


def test_a_weight_two_matmuls_read_is_written_once(tmp_path):
    done, table, up, head = _written(tmp_path, up_twice=True)
    assert done["weights"] == 2 and done["tied_head_shared"] == 1
    ids = np.array([[3, 4]], np.int64)
    model = onnx.load(tmp_path / "out" / "model.onnx", load_external_data=False)
    assert [i.name for i in model.graph.initializer].count("up_int8") == 1  # stored once, a DQ per reader
    assert sum(n.op_type == "DequantizeLinear" and n.input[0] == "up_int8" for n in model.graph.node) == 2
    plain, _ = _run(tmp_path / "out" / "model.onnx", optimize=False, ids=ids)
    up_q, table_q = _values(up.T).T, _values(table)
    np.testing.assert_allclose(plain[0], table_q[ids[0]] @ up_q @ up_q @ table_q.T, rtol=1e-4, atol=1e-6)


def test_a_narrow_matrix_is_one_group_per_row(tmp_path):
    done, table, up, _ = _written(tmp_path, hidden=16)
    assert done["one_group_per_row"] == ["table", "up"] and done["tied_head_shared"] == 1
    ids = np.array([[9]], np.int64)
    plain, _ = _run(tmp_path / "out" / "model.onnx", optimize=False, ids=ids)
    table_q = _values(table, 16)
    np.testing.assert_allclose(plain[0], table_q[ids[0]] @ _values(up.T, 16).T @ table_q.T, rtol=1e-4, atol=1e-6)


def test_a_weight_another_op_reads_is_refused(tmp_path):
    extra = [helper.make_node("Transpose", ["up"], ["up_t"], perm=[1, 0])]
    with pytest.raises(ExportError, match="^up is read by a Transpose as well as by MatMul/Gather.*pick QUANT=int8$"):
        _written(tmp_path, extra=extra)
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_an_uneven_width_is_named_and_nothing_is_written(tmp_path):
    with pytest.raises(ExportError, match="table has rows of 64, which groups of 48 do not divide; "
                                          "pick QUANT=int8 \\(per channel\\)"):
        _written(tmp_path, group=48)
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_a_compressed_model_is_refused(tmp_path):
    _written(tmp_path)
    again = tmp_path / "again"
    again.mkdir()
    with pytest.raises(ExportError, match="no float MatMul or Gather weights .*compressed already"):
        write_int8_groups_onnx(tmp_path / "out" / "model.onnx", again / "model.onnx", 32)


def test_onnx_takes_the_level():
    from edge_gemma.export.onnx.backend import ONNXBackend
    from edge_gemma.families import FAMILIES
    from edge_gemma.recipes import INT8_G32_PRESET

    assert ONNXBackend().refuse(FAMILIES["gemma3_text"], INT8_G32_PRESET) is None
    assert "FORMAT=openvino" in ONNXBackend().refuse(FAMILIES["gemma4_text"], INT8_G32_PRESET)


# --- the real export (slow) ----------------------------------------------------------------------

# Measured on the AMD EPYC (2026-12-07, ONNX Runtime f32 with its int8 activations inside
# MatMulNBits): KL 0.00276, top-1 96.6 %, against the ONNX int8 (NNCF per channel) at 0.0103.
ONNX_INT8_G32_BOUNDS = (0.004, 0.95)


@pytest.mark.slow
def test_real_onnx_int8_g32_export_is_q8_0_and_close(onnx_int8_groups_export):
    import json

    import edge_gemma

    manifest = json.loads((onnx_int8_groups_export / "manifest.json").read_text())
    compression = manifest["compression"]
    groups = compression["int8_groups"]
    # 18 layers x 7 matrices and the tied table (its head shares the codes), every one int8 in groups.
    assert groups["weights"] == 127 and groups["tied_head_shared"] == 1 and groups["one_group_per_row"] == []
    assert compression["nncf"] is None and set(compression["bitwidth"]) == {"int8_sym"}
    q = manifest["quality"]
    assert q["engine"] == "ort" and q["kl"] <= ONNX_INT8_G32_BOUNDS[0] and q["top1"] >= ONNX_INT8_G32_BOUNDS[1], q
    assert "Scales stored as f32" in (onnx_int8_groups_export / "README.md").read_text()
    model = edge_gemma.load(onnx_int8_groups_export, device="CPU", engine="ort", threads=2)
    assert model.generate("The capital of France is", max_new_tokens=8).strip()


@pytest.mark.slow
def test_the_real_onnx_int8_g32_file_also_runs_in_openvino(onnx_int8_groups_export):
    import openvino as ov

    from edge_gemma.runtime.engines.ort import empty_past

    path = onnx_int8_groups_export / "model.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"input_ids": np.array([[2, 651, 6037, 529, 7001, 563]], np.int64),
            "attention_mask": np.ones((1, 6), np.int64)} | empty_past(session)
    expected = session.run(["logits"], feed)[0].ravel()
    got = ov.Core().compile_model(ov.Core().read_model(path), "CPU")(feed)["logits"].ravel()
    # Each runtime rounds activations its own way (ORT's MatMulNBits to int8, OpenVINO in bf16
    # or f32 by CPU): seen 0.63 at most over logits up to 17.5 (AMD EPYC); the pick is ORT's
    # first or, at a near-tie, its second.
    assert got.argmax() in np.argsort(expected)[-2:] and np.abs(got - expected).max() < 2.0
