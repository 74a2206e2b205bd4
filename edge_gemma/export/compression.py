"""Where int4 and int8 get configured: a recipe's QuantPreset becomes NNCF arguments.

The recipe's `quant:` block says what each level is (recipes/*.yaml); this module turns a
preset into the arguments of `nncf.compress_weights` and runs it. Both export formats call
it, so OpenVINO and ONNX exports of one level carry the same weights.

The export writes a 16-bit model first, then NNCF compresses its weights in place of
optimum-intel's own quantization step, so the exact arguments NNCF saw are ours to record
in the manifest. We are explicit on purpose: optimum-intel silently picks int8 for models
over 1e9 parameters when no weight format is given (optimum-intel 2.2.0,
`_apply_model_size_based_quantization`).

A preset with `head` compresses in two passes: first the embedding / LM head alone (NNCF
has no per-layer precision, so the decoder layers are an ignored scope), then the layers
with the head ignored. Gemma ties the two, so one matrix is both the Gather and the MatMul.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..recipes import QuantPreset

# Node names in optimum-intel's IR ("__module.model.layers.3.mlp.down_proj/...") and in our
# ONNX graph ("/model/layers.3/mlp/down_proj/MatMul").
LAYERS = r".*layers\.[0-9]+[./].*"
HEAD = r".*(embed_tokens|lm_head).*"
# NNCF's own evaluation settings for AWQ and scale estimation (NNCF 3.4 docs, "Weights
# compression" usage): its defaults touch 0.2 % of channels, these 5 %.
AWQ_PARAMS = dict(subset_size=32, percent_to_apply=0.05, alpha_min=0.0, alpha_max=1.0, steps=100)
SCALE_ESTIMATION_PARAMS = dict(subset_size=32, initial_steps=5, scale_steps=10, weight_penalty=-1.0)


def _data_aware(preset: QuantPreset) -> dict:
    args = {k: True for k in ("awq", "scale_estimation", "gptq", "lora_correction") if getattr(preset, k)}
    if preset.data_aware:
        args["subset_size"] = preset.subset_size
    return args


def nncf_arguments(preset: QuantPreset) -> dict | None:
    """The decoder layers' keyword arguments for `nncf.compress_weights`, as plain data; None
    for fp16, gguf (gguf_weights.py) and int8 in groups (int8_groups.py), which NNCF does not
    write. With `head`, the head is left out here (head_arguments compresses it)."""
    if preset.weights in ("fp16", "gguf") or preset.int8_groups:
        return None
    if preset.weights == "int8":
        # int8 is always per-channel on every layer; NNCF rejects group_size/ratio here.
        args = {"mode": preset.mode}
    else:
        args = {"mode": preset.mode, "group_size": preset.group_size, "ratio": preset.ratio,
                "all_layers": preset.all_layers, "backup_mode": preset.backup, **_data_aware(preset)}
        if preset.sensitivity:
            args["sensitivity_metric"] = preset.sensitivity
        if preset.group_fallback != "error":
            args["group_size_fallback"] = preset.group_fallback
    ignored = [pattern for pattern in (preset.uncompressed, preset.head and HEAD) if pattern]
    if ignored:
        args["ignored_patterns"] = ignored
    if preset.head:
        if preset.weights == "int4":
            # Without all_layers NNCF keeps the last MatMul it sees in backup precision: with
            # the LM head ignored, that would be the last decoder layer's down_proj.
            args["all_layers"] = True
    return args


def head_arguments(preset: QuantPreset) -> dict | None:
    """The embedding / LM head pass, or None when the preset leaves the head to NNCF."""
    if not preset.head:
        return None
    ignored = [LAYERS, *([preset.uncompressed] if preset.uncompressed else [])]
    if preset.head.startswith("int8"):
        return {"mode": preset.head, "ignored_patterns": ignored}
    # all_layers: without it NNCF keeps embeddings and the last MatMul in the backup precision.
    return {"mode": preset.head, "group_size": preset.head_group_size, "ratio": 1.0, "all_layers": True,
            "ignored_patterns": ignored, **({"scale_estimation": True, "subset_size": preset.subset_size}
                                             if preset.scale_estimation else {})}


@contextmanager
def released_weights():
    """NNCF 3.4's OpenVINO backend keeps every node of the model in `name_to_node_mapping` until
    it has compressed the last weight (OVWeightCompressionAlgoBackend.transform_model), so each
    weight it replaces stays in memory to the end. Harmless for the IR's own weights (memory-
    mapped), not for the ones AWQ rescaled: new bf16 constants in memory, two per Gemma layer
    (up and down projections). At the 9B shape that was 0.19 GB a layer, alive beside the whole
    compressed model (docs/quality.md). Each replaced node is dropped from the mapping here."""
    from nncf.quantization.algorithms.weight_compression.openvino_backend import OVWeightCompressionAlgoBackend

    replace = OVWeightCompressionAlgoBackend._replace_node

    def replace_and_release(self, src_node, new_node):
        replace(self, src_node, new_node)
        self.name_to_node_mapping.pop(src_node.get_friendly_name(), None)

    OVWeightCompressionAlgoBackend._replace_node = replace_and_release
    try:
        yield
    finally:
        OVWeightCompressionAlgoBackend._replace_node = replace


def run_nncf(model, args: dict, dataset=None, advanced: dict | None = None):
    """`nncf.compress_weights` on `model` with `args` (nncf_arguments' plain data)."""
    import nncf

    kwargs = dict(args, mode=nncf.CompressWeightsMode(args["mode"]))
    if "backup_mode" in kwargs:
        kwargs["backup_mode"] = nncf.BackupMode(kwargs["backup_mode"])
    if "sensitivity_metric" in kwargs:
        kwargs["sensitivity_metric"] = nncf.SensitivityMetric(kwargs["sensitivity_metric"])
    if "ignored_patterns" in kwargs:
        kwargs["ignored_scope"] = nncf.IgnoredScope(patterns=kwargs.pop("ignored_patterns"), validate=False)
    data_aware = any(kwargs.get(k) for k in ("awq", "scale_estimation", "gptq", "lora_correction")) or (
        "sensitivity_metric" in kwargs and kwargs["sensitivity_metric"] != nncf.SensitivityMetric.WEIGHT_QUANTIZATION_ERROR)
    params = dict(advanced or {})
    if "group_size_fallback" in kwargs:
        params["group_size_fallback_mode"] = nncf.GroupSizeFallbackMode(kwargs.pop("group_size_fallback"))
    if data_aware:
        params.update(awq_params=nncf.AdvancedAWQParameters(**AWQ_PARAMS),
                      scale_estimation_params=nncf.AdvancedScaleEstimationParameters(**SCALE_ESTIMATION_PARAMS))
    else:
        params.pop("statistics_path", None)
    with released_weights():
        return nncf.compress_weights(model, dataset=dataset if data_aware else None,
                                     advanced_parameters=nncf.AdvancedCompressionParameters(**params), **kwargs)


def compress(model, preset: QuantPreset, *, dataset=None, statistics_path: str | None = None, **advanced):
    """Compress an `openvino.Model`'s (or `onnx.ModelProto`'s) weights as the preset says.

    `dataset`: an `nncf.Dataset` of model inputs, needed by the data-aware keys (calibration.py
    builds it). `statistics_path`: where NNCF caches activation statistics (OpenVINO only), so
    re-running a preset on the same model and data skips collecting them. `advanced` goes to
    NNCF's AdvancedCompressionParameters (the ONNX export passes where its external data
    lives). NNCF prints its bitwidth table and a progress bar while it works.
    """
    args = nncf_arguments(preset)
    if args is None:
        return model
    if statistics_path:
        advanced["statistics_path"] = statistics_path
    head = head_arguments(preset)
    if head is not None:
        model = run_nncf(model, head, dataset, {k: v for k, v in advanced.items() if k != "statistics_path"})
    return run_nncf(model, args, dataset, advanced)
