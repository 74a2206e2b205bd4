"""Where int4 and int8 get configured: a recipe's QuantPreset becomes NNCF arguments.

The recipe's `quant:` block says what each level is (recipes/*.yaml); this module turns a
preset into the arguments of `nncf.compress_weights` and runs it. Both export formats call
it, so OpenVINO and ONNX exports of one level carry the same weights.

The export writes a 16-bit model first, then NNCF compresses its weights in place of
optimum-intel's own quantization step, so the exact arguments NNCF saw are ours to record
in the manifest. We are explicit on purpose: optimum-intel silently picks int8 for models
over 1e9 parameters when no weight format is given (optimum-intel 2.2.0,
`_apply_model_size_based_quantization`).
"""

from __future__ import annotations

from ..recipes import QuantPreset


def nncf_arguments(preset: QuantPreset) -> dict | None:
    """The keyword arguments for `nncf.compress_weights`, as plain data; None for fp16."""
    if preset.weights == "fp16":
        return None
    if preset.weights == "int8":
        # int8 is always per-channel on every layer; NNCF rejects group_size/ratio here.
        return {"mode": preset.mode}
    return {
        "mode": preset.mode,
        "group_size": preset.group_size,
        "ratio": preset.ratio,
        "all_layers": preset.all_layers,
        "backup_mode": preset.backup,
    }


def compress(model, preset: QuantPreset, **extra):
    """Compress an `openvino.Model`'s (or `onnx.ModelProto`'s) weights as the preset says.

    `extra` goes to `nncf.compress_weights` as is (the ONNX export passes where its external
    data lives). Data-free: AWQ, scale estimation and GPTQ need a calibration set, and hub
    datasets are out of reach offline. With ratio < 1 NNCF ranks layers by weight
    quantization error. NNCF prints its bitwidth table and a progress bar while it works.
    """
    import nncf

    args = nncf_arguments(preset)
    if args is None:
        return model
    kwargs = dict(args, mode=nncf.CompressWeightsMode(args["mode"]))
    if "backup_mode" in kwargs:
        kwargs["backup_mode"] = nncf.BackupMode(kwargs["backup_mode"])
    return nncf.compress_weights(model, **kwargs, **extra)
