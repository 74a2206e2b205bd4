"""Device choice and compile properties: plain functions, tested without GPU or NPU."""

from __future__ import annotations

import pytest

from edge_gemma.devices import kind
from edge_gemma.errors import DeviceError
from edge_gemma.export_folder import npu_problems
from edge_gemma.runtime.device_config import (
    attention_backend,
    choose_device,
    default_dynamic_quant_group,
    device_config,
)

NPU_READY = {"mode": "int4_sym", "group_size": 128, "ratio": 1.0, "all_layers": False, "backup_mode": "int8_sym"}


def test_auto_prefers_gpu_then_npu_then_cpu():
    assert choose_device("AUTO", ["CPU", "GPU.0", "GPU.1", "NPU"], True, True).device == "GPU.0"
    assert choose_device("auto", ["CPU", "NPU"], True, True).device == "NPU"
    choice = choose_device("AUTO", ["CPU"], True, True)
    assert choice.device == "CPU" and "AUTO chose CPU" in choice.reason


def test_auto_skips_an_npu_it_cannot_use_and_says_why():
    choice = choose_device("AUTO", ["CPU", "NPU"], npu_ready=False, npu_engine=True)
    assert choice.device == "CPU" and "not NPU-ready" in choice.reason
    choice = choose_device("AUTO", ["CPU", "NPU"], npu_ready=True, npu_engine=False)
    assert choice.device == "CPU" and "engine cannot drive an NPU" in choice.reason


def test_named_devices_must_be_present():
    assert choose_device("GPU", ["CPU", "GPU"], False, False).device == "GPU"
    assert choose_device("GPU", ["CPU", "GPU.0", "GPU.1"], False, False).device == "GPU"  # the first GPU
    assert choose_device("gpu.1", ["CPU", "GPU.0", "GPU.1"], False, False).device == "GPU.1"
    with pytest.raises(DeviceError, match=r"device GPU is not present here \(OpenVINO sees CPU\)"):
        choose_device("GPU", ["CPU"], False, False)
    with pytest.raises(DeviceError, match="unknown device 'TPU'; use AUTO, CPU, GPU"):
        choose_device("TPU", ["CPU"], False, False)
    with pytest.raises(DeviceError, match="unknown device"):
        kind("GPU.x")


def test_npu_needs_genai_and_an_npu_ready_export():
    with pytest.raises(DeviceError, match="QUANT=int4-npu"):
        choose_device("NPU", ["CPU", "NPU"], npu_ready=False, npu_engine=True)
    with pytest.raises(DeviceError, match="--engine genai"):
        choose_device("NPU", ["CPU", "NPU"], npu_ready=True, npu_engine=False)
    assert choose_device("NPU", ["CPU", "NPU"], npu_ready=True, npu_engine=True).device == "NPU"


def test_npu_readiness_follows_the_int4_npu_rules():
    assert npu_problems(NPU_READY) == []
    assert npu_problems({**NPU_READY, "group_size": -1}) == []
    assert npu_problems(None) == ["its weights are not compressed to int4"]
    asym = npu_problems({"mode": "int4_asym", "group_size": 64, "ratio": 0.8})
    assert asym == ["mode is int4_asym, not int4_sym", "ratio is 0.8, not 1.0", "group size is 64, not -1 or 128"]


def test_recipes_int4_npu_preset_is_npu_ready():
    from edge_gemma.export.compression import nncf_arguments
    from edge_gemma.recipes import load_all

    recipes, errors = load_all()
    assert not errors
    for recipe in recipes:
        if recipe.no_npu:  # no NPU level; tests/test_recipes.py checks it says why
            assert "int4-npu" not in recipe.quant, recipe.name
            continue
        assert npu_problems(nncf_arguments(recipe.preset("int4-npu"))) == [], recipe.name
    gemma2 = [r for r in recipes if r.name == "gemma-2-9b-it"][0]
    assert npu_problems(nncf_arguments(gemma2.preset("int4")))  # asym int4 is not


def test_cpu_config(tmp_path):
    assert device_config("CPU") == {"PERFORMANCE_HINT": "LATENCY"}
    config = device_config("CPU", threads=2, hint="throughput", kv_cache_precision="u8", cache_dir=tmp_path)
    assert config == {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_NUM_THREADS": 2, "KV_CACHE_PRECISION": "u8",
                      "CACHE_DIR": str(tmp_path)}


def test_dynamic_quantization_group_follows_int4_groups():
    assert default_dynamic_quant_group(NPU_READY) == 128
    assert default_dynamic_quant_group({**NPU_READY, "group_size": 256}) == 128
    assert default_dynamic_quant_group({**NPU_READY, "group_size": 64}) is None  # slower there
    assert default_dynamic_quant_group({**NPU_READY, "group_size": -1}) is None
    assert default_dynamic_quant_group({"mode": "int8_asym", "group_size": -1}) == 0  # off: faster for int8
    assert default_dynamic_quant_group({"mode": "int8_sym"}) == 0
    # A GGUF's own blocks (no NNCF arguments): off when every kept weight is int8.
    assert default_dynamic_quant_group(None, ("int8_sym",)) == 0
    assert default_dynamic_quant_group(None, ("int8_sym", "int4_sym")) is None
    assert default_dynamic_quant_group(None) is None
    config = device_config("CPU", dynamic_quant_group=128)
    assert config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] == 128
    with pytest.raises(DeviceError, match="dynamic_quant_group"):
        device_config("GPU", dynamic_quant_group=128)


def test_gpu_and_npu_configs(tmp_path):
    assert device_config("GPU.1", cache_dir=tmp_path) == {"PERFORMANCE_HINT": "LATENCY", "CACHE_DIR": str(tmp_path)}
    assert device_config("NPU") == {"PERFORMANCE_HINT": "LATENCY", "MAX_PROMPT_LEN": 1024, "MIN_RESPONSE_LEN": 128}
    assert device_config("NPU", max_prompt_len=2048, min_response_len=256)["MAX_PROMPT_LEN"] == 2048


def test_options_for_another_device_are_errors_listed_together():
    with pytest.raises(DeviceError) as err:
        device_config("GPU", threads=4, kv_cache_precision="u8", max_prompt_len=10, hint="FAST")
    message = str(err.value)
    for part in ("threads", "kv_cache_precision", "max_prompt_len", "hint 'FAST'"):
        assert part in message
    with pytest.raises(DeviceError, match="threads"):
        device_config("CPU", threads=0)


def test_ort_device_is_cpu_with_threads_only():
    from edge_gemma.runtime.device_config import ort_device

    choice, config = ort_device("auto", threads=2, hint=None)
    assert choice.device == "CPU" and "CPU only" in choice.reason and config == {"threads": 2}
    assert ort_device("CPU")[1] == {"threads": None}
    with pytest.raises(DeviceError, match="ort engine runs on CPU only, not GPU"):
        ort_device("GPU")
    with pytest.raises(DeviceError, match="takes threads only, not the OpenVINO setting.s. hint, kv_cache_precision"):
        ort_device("CPU", threads=2, hint="LATENCY", kv_cache_precision="f32")



def test_attention_backend_is_chosen_per_use():
    assert attention_backend("CPU", batched=False) == "SDPA"  # loads 3x faster from a warm cache
    assert attention_backend("CPU", batched=True) == "PA"  # continuous batching needs paged attention
    assert attention_backend("GPU.1", batched=False) is None  # openvino-genai's default, not measured here
    assert attention_backend("NPU", batched=False) is None
    assert attention_backend("CPU", batched=False, requested="pa") == "PA"


@pytest.mark.parametrize("device, batched, requested, message", [
    ("CPU", False, "FLASH", "not one of SDPA, PA"),
    ("CPU", True, "SDPA", "batched decoding runs on paged attention only"),
    ("NPU", False, "PA", "the NPU pipeline chooses its own attention"),
])
def test_attention_backend_refuses_what_cannot_run(device, batched, requested, message):
    with pytest.raises(DeviceError, match=message):
        attention_backend(device, batched, requested)
