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


def test_uncompressed_nodes_join_the_ignored_scope():
    # Gemma 4 26B-A4B keeps its MoE router in 16 bits at int8 and int4; with a head of its own,
    # the head's pattern joins it.
    recipe = load_recipe("gemma-4-26b-a4b-it")
    assert nncf_arguments(recipe.quant["int8"]) == {"mode": "int8_asym", "ignored_patterns": [".*router.*"]}
    assert nncf_arguments(recipe.quant["int4"])["ignored_patterns"] == [".*router.*"]
    args = nncf_arguments(QuantPreset(weights="int8", uncompressed=".*router.*", head="int8_sym"))
    assert args["ignored_patterns"] == [".*router.*", r".*(embed_tokens|lm_head).*"]
