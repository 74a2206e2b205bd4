"""Recipe presets become the NNCF arguments we pass and record."""

from edge_gemma.export.compression import nncf_arguments
from edge_gemma.recipes import QuantPreset, load_recipe


def test_fp16_has_no_nncf_step():
    assert nncf_arguments(QuantPreset(weights="fp16")) is None


def test_int8_is_per_channel_without_int4_knobs():
    assert nncf_arguments(QuantPreset(weights="int8", sym=True)) == {"mode": "int8_sym"}


def test_int4_presets_of_the_recipes():
    assert nncf_arguments(load_recipe("gemma-2b-it").quant["int4"]) == {
        "mode": "int4_sym", "group_size": 64, "ratio": 0.6, "all_layers": False, "backup_mode": "int8_asym",
        "awq": True, "scale_estimation": True, "subset_size": 128, "sensitivity_metric": "hessian_input_activation"}
    assert nncf_arguments(load_recipe("gemma-3-270m").quant["int4-npu"]) == {
        "mode": "int4_sym", "group_size": 128, "ratio": 1.0, "all_layers": False, "backup_mode": "int8_sym",
        "gptq": True, "scale_estimation": True, "subset_size": 128}
