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


def test_nncf_lets_go_of_each_weight_it_replaces():
    # compression.released_weights: NNCF 3.4 would keep every replaced weight (AWQ's rescaled
    # copies among them) in its node mapping until the last weight is compressed.
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops
    from nncf.quantization.algorithms.weight_compression.openvino_backend import OVWeightCompressionAlgoBackend

    from edge_gemma.export.compression import released_weights, run_nncf

    def model():
        x = ops.parameter([1, 64], ov.Type.f32)
        weight = ops.constant(np.random.default_rng(0).standard_normal((64, 64), dtype=np.float32), name="w")
        return ov.Model([ops.matmul(x, weight, False, True)], [x]), weight

    graph, weight = model()
    backend = OVWeightCompressionAlgoBackend(graph)
    with released_weights():
        backend._replace_node(weight, ops.convert(ops.constant(np.ones((64, 64), np.int8)), ov.Type.f32))
    assert "w" not in backend.name_to_node_mapping
    assert OVWeightCompressionAlgoBackend._replace_node.__name__ == "_replace_node"  # put back
    compressed = run_nncf(model()[0], {"mode": "int8_asym"})  # and NNCF still runs with it
    assert any(op.get_element_type() == ov.Type.u8 for op in compressed.get_ordered_ops() if op.get_type_name() == "Constant")
