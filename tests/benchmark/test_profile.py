"""The decode-step profile (benchmark/profile.py): counters summed by node kind (figures printed, never timed)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_gemma.benchmark.profile import WARMUP, _steps, main, profile, table
from edge_gemma.export.calibration import openvino_inputs


def _stateful_head(path, vocab: int = 512, hidden: int = 64) -> None:
    """The IR's inputs, a KV-cache-like state, an embedding and a MatMul named as optimum names the LM head."""
    import openvino as ov
    import openvino.opset13 as ops
    import openvino.opset6 as ops6

    ids = ops.parameter([-1, -1], ov.Type.i64, name="input_ids")
    others = [ops.parameter([-1, -1], ov.Type.i64, name="attention_mask"),
              ops.parameter([-1, -1], ov.Type.i64, name="position_ids"), ops.parameter([-1], ov.Type.i32, name="beam_idx")]
    for parameter, name in zip([ids, *others], ["input_ids", "attention_mask", "position_ids", "beam_idx"]):
        parameter.output(0).get_tensor().set_names({name})
    rng = np.random.default_rng(0)
    table_ = ops.constant(rng.normal(size=(vocab, hidden)).astype(np.float32))
    x = ops.gather(table_, ids, ops.constant(np.int64(0)))
    past = ops6.read_value(ops.constant(np.zeros((1, hidden), np.float32)), "past", ov.Type.f32, [1, hidden])
    state = ops6.assign(ops.reduce_mean(ops.add(x, past), ops.constant(np.array([1], np.int64)), False), "past")
    head = ops.matmul(x, ops.constant(rng.normal(size=(vocab, hidden)).astype(np.float32)), False, True,
                      name="__module.lm_head/aten::linear/MatMul")
    ov.save_model(ov.Model([ops.result(head)], [state], [ids, *others]), path)


def test_a_step_feeds_the_ir_its_four_inputs():
    feed = openvino_inputs([5, 6], past=3)
    assert feed["input_ids"].tolist() == [[5, 6]] and feed["attention_mask"].shape == (1, 5)
    assert feed["position_ids"].tolist() == [[3, 4]] and feed["beam_idx"].tolist() == [0]


class _MeanCounters:
    """A request whose counters are each node's mean over every inference so far, as the CPU
    plugin's are: the prompt takes 100 ms in "MatMul", each later step 2 ms."""

    def __init__(self):
        self.times: list[float] = []

    def reset_state(self):
        pass

    def infer(self, inputs):
        self.times.append(0.100 if inputs["input_ids"].shape[1] > 1 else 0.002)

    @property
    def profiling_info(self):
        from datetime import timedelta
        from types import SimpleNamespace

        mean = sum(self.times) / len(self.times)
        return [SimpleNamespace(node_name="n", node_type="MatMul", real_time=timedelta(seconds=mean))]


def test_the_prompt_is_differenced_out_of_the_mean_counters():
    walls, before, after = _steps(_MeanCounters(), prompt=16, steps=WARMUP + 5)
    assert len(walls) == 5
    # The step's own 2 ms (timedelta keeps microseconds), where the counters' mean is 9 ms.
    assert (after["MatMul"] - before["MatMul"]) / 5 == pytest.approx(0.002, rel=1e-3)


def test_the_profile_sums_counters_by_kind_and_names_the_head(tmp_path):
    _stateful_head(tmp_path / "m.xml")
    report = profile(tmp_path / "m.xml", {"INFERENCE_NUM_THREADS": 1}, prompt=4, steps=WARMUP + 4)
    assert report["steps"] == 4 and report["ms_counted"] > 0 and report["ms_wall_median"] > 0
    assert report["ms_wall_median_uncounted"] > 0
    assert report["ms_counted"] == pytest.approx(sum(report["ms_by_kind"].values()))
    kinds = list(report["ms_by_kind"])
    # the head apart, with the kernel the CPU plugin chose for it in brackets
    assert [k for k in kinds if k.startswith("LM head: FullyConnected [")] and \
        all(not k.startswith("other MatMuls") for k in kinds)
    printed = table(report)
    assert "sum of the counters" in printed and "counters off" in printed


def test_a_folder_without_an_ir_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path)])
    assert exit_.value.code == 2 and "give an OpenVINO export folder" in capsys.readouterr().err


@pytest.mark.slow
def test_the_real_int8_g32_export_profiles(int8_groups_export, capsys):
    assert main([str(int8_groups_export), "--threads", "2", "--prompt", "16", "--steps", str(WARMUP + 4)]) == 0
    out = capsys.readouterr().out
    # The 270M's head (262144 x 640) and its 126 other MatMuls, each a kind of its own.
    assert "LM head: FullyConnectedCompressed" in out and "other MatMuls: FullyConnectedCompressed" in out
    assert "'DYNAMIC_QUANTIZATION_GROUP_SIZE': 0" in out  # an all-int8 export: as the runtime runs it
