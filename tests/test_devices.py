"""One device grammar and one NPU rule, shared by the recipe check, the runtime, the CLI and
the LocalAI definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_gemma.devices import DEVICE, NPU_RULE, kind, normalize_device, npu_weight_problems
from edge_gemma.errors import DeviceError, RecipeError
from edge_gemma.export_folder import npu_problems
from edge_gemma.recipes import load_recipe, parse_recipe
from edge_gemma.serve.localai import model_config, problems

DEVICES = ["AUTO", "CPU", "GPU", "GPU.0", "GPU.1", "NPU", "AUTO:GPU,CPU", "HETERO:GPU.1,CPU", "MULTI:GPU,NPU"]
NOT_DEVICES = ["TPU", "GPU.x", "GPU.", "CPU.0", "HETERO", "AUTO:", "AUTO:TPU", "", "GPU CPU"]


@pytest.mark.parametrize("text", DEVICES)
def test_device_strings_are_normalized(text):
    assert normalize_device(text.lower()) == text
    assert DEVICE.fullmatch(text)


@pytest.mark.parametrize("text", NOT_DEVICES)
def test_other_strings_are_refused_naming_the_choices(text):
    with pytest.raises(DeviceError, match=r"is not an OpenVINO device \(AUTO, CPU, GPU, GPU.<n> or NPU\)"):
        normalize_device(text)


def test_kind_is_for_one_physical_device():
    assert [kind(d) for d in ("cpu", "GPU", "gpu.1", "NPU")] == ["CPU", "GPU", "GPU", "NPU"]
    for device in ("AUTO", "AUTO:GPU,CPU", "HETERO:GPU,CPU", "TPU", "GPU.x"):
        with pytest.raises(DeviceError, match=f"unknown device '{device}'; use AUTO, CPU"):
            kind(device)


@pytest.mark.parametrize("device", DEVICES + [d for d in NOT_DEVICES if d])  # "" means no main_gpu
def test_localai_main_gpu_uses_the_same_grammar(device):
    config = model_config(load_recipe("gemma-3-270m"), "gemma-3-270m-int4", device)
    assert (problems(config) == []) == (device in DEVICES), device


def test_npu_rule():
    assert npu_weight_problems("int4_sym", 1.0, 128) == [] == npu_weight_problems("int4_sym", 1.0, -1)
    assert npu_weight_problems("int4_asym", 0.8, 64) == [
        "mode is int4_asym, not int4_sym", "ratio is 0.8, not 1.0", "group size is 64, not -1 or 128"]


def test_recipe_check_and_device_check_apply_the_same_rule(tmp_path):
    # The recipe's int4-npu preset and an export's manifest are two spellings of one rule.
    text = Path(load_recipe("gemma-3-270m").file).read_text(encoding="utf-8").replace(
        "int4-npu: {weights: int4, sym: true, group_size: 128, ratio: 1.0, backup: int8_sym, gptq: true, scale_estimation: true, max_kl: 0.3}",
        "int4-npu: {weights: int4, sym: true, group_size: 64, ratio: 1.0, backup: int8_sym, gptq: true, scale_estimation: true, max_kl: 0.3}")
    path = tmp_path / "gemma-3-270m.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as err:
        parse_recipe(path)
    assert err.value.problems == [f"quant.int4-npu: NPU needs {NPU_RULE} (group size is 64, not -1 or 128)"]
    manifest_nncf = {"mode": "int4_sym", "group_size": 64, "ratio": 1.0, "all_layers": False, "backup_mode": "int8_sym"}
    assert npu_problems(manifest_nncf) == ["group size is 64, not -1 or 128"]
