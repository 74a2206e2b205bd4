"""The ONNX backend of the export: our own decoder trace, compressed by NNCF, rewritten for ONNX Runtime.

convert: trace one fp32 decoder step with torch.onnx (decoder.py, opset 21: NNCF writes
int4 as blockwise DequantizeLinear only from opset 21 on, docs/upstream-notes.md); compress:
NNCF with the same recipe preset as the OpenVINO export (compression.py; int8 in groups: our
own writer in its place, int8_groups.py), then the graph rewrites for ONNX Runtime's fused
kernels (rewrite.py), plus the tokenizer files; check: ONNX
Runtime loads it and its inputs are what the runtime feeds. Weights always go to one
external data file (model.onnx.data): protobuf caps a single file at 2 GB, which
gemma-2-9b-it is far over, and one layout for every model is simpler.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from ...errors import ExportError
from ...export_folder import MODEL_ONNX
from ...recipes import QuantPreset
from ..calibration import onnx_inputs
from ..compression import compress
from .decoder import DecoderStep, kv_names, sliding_window
from .int8_groups import write_int8_groups_onnx
from .rewrite import blockwise_int8_matmuls, gather_before_dequantize, share_tied_lm_head

OPSET = 21
# What the runtime needs next to the model; the weights stay behind.
SIDE_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "tokenizer.model", "chat_template.jinja", "chat_template.json")


def trace_decoder(checkpoint: Path, output: Path) -> dict:
    """torch.onnx-export one decoder step of the checkpoint (fp32 weights); return its shape facts."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    config = model.config
    layers, heads, head_dim = config.num_hidden_layers, config.num_key_value_heads, config.head_dim
    past_names, present_names = kv_names(layers)
    # Dummy step: 2 new tokens after 3 cached ones, so both lengths are traced as dynamic.
    past = [torch.zeros(1, heads, 3, head_dim) for _ in past_names]
    args = (torch.tensor([[2, 3]]), torch.ones(1, 5, dtype=torch.int64), *past)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total"},
            "logits": {0: "batch"}}
    axes |= {name: {0: "batch", 2: "past"} for name in past_names}
    axes |= {name: {0: "batch", 2: "total"} for name in present_names}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript tracer warns for every data-dependent branch in the Gemma code.
        warnings.simplefilter("ignore")
        # dynamo=False: the TorchScript exporter needs no onnxscript and traces the DynamicCache
        # calls as plain concatenations (torch 2.13). The path must be a str: for a graph over
        # protobuf's 2 GB it then writes external data files beside it (a Path raises
        # "the output file must be a file path" in torch 2.13).
        torch.onnx.export(DecoderStep(model), args, str(output), input_names=["input_ids", "attention_mask", *past_names],
                          output_names=["logits", *present_names], dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False)
    return {"layers": layers, "kv_heads": heads, "head_dim": head_dim, "sliding_window": sliding_window(config),
            "vocab_size": config.vocab_size, "opset": OPSET, "logits": "last position only"}


def compress_onnx(src: Path, dst: Path, preset, dataset=None) -> dict:
    """NNCF-compress src into dst (with external data); return the rewrite counts.

    The traced model is read without its external data (a graph over 2 GB has some): NNCF
    3.4 runs ONNX shape inference on the proto it is given, which cannot serialize over
    2 GB, and reads the weights from `external_data_dir` itself (nncf/onnx/quantization/
    quantize_model.py). What it leaves untouched (norm weights) is loaded before saving.
    """
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    folder = str(src.parent.resolve())
    model = compress(onnx.load(src, load_external_data=False), preset, dataset=dataset,
                     backend_params={"external_data_dir": folder})
    load_external_data_for_model(model, folder)
    rewrites = {"blockwise_int8_matmuls": blockwise_int8_matmuls(model),
                "gather_before_dequantize": gather_before_dequantize(model),
                "share_tied_lm_head": share_tied_lm_head(model)}
    onnx.save(model, dst, save_as_external_data=True, location=dst.name + ".data", size_threshold=1024)
    return rewrites


def check_onnx(path: Path, facts: dict) -> None:
    """ONNX Runtime loads it, and its inputs are what the runtime feeds."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ExportError(f"ONNX Runtime cannot load {path}: {exc}") from None
    past_names, _ = kv_names(facts["layers"])
    expected = ["input_ids", "attention_mask", *past_names]
    found = [i.name for i in session.get_inputs()]
    if found != expected:
        raise ExportError(f"{path} has inputs {found[:4]}..., expected {expected[:4]}...; tracing changed?")


class ONNXBackend:
    format = "onnx"
    model_file = MODEL_ONNX
    convert_step = f"tracing an fp32 ONNX decoder with KV cache (torch.onnx, opset {OPSET})"
    check_step = "checking the model in ONNX Runtime and counting bitwidths"

    def refuse(self, family, preset: QuantPreset) -> str | None:
        if family.onnx_refusal:
            return f"no ONNX export of {family.generation} yet: {family.onnx_refusal}; export it with FORMAT=openvino"
        if preset.weights == "gguf":
            return ("QUANT=gguf keeps a GGUF's blocks in OpenVINO's compressed-weight form; the ONNX export has "
                    "none for them yet: export it with FORMAT=openvino, or pick QUANT=int8 or int4 for ONNX")
        if preset.weights == "fp16":
            return ("ONNX exports are compressed: pick QUANT=int8 or int4 (ONNX Runtime on CPU would run fp16 "
                    "weights slower than int8, and fp32 ones are 4x the size)")
        unsupported = [k for k in ("gptq", "lora_correction") if getattr(preset, k)]
        if unsupported:
            return (f"NNCF 3.4's ONNX backend has AWQ and scale estimation but not {', '.join(unsupported)}; "
                    "export this preset with FORMAT=openvino")
        if preset.head:
            return ("the ONNX export keeps the embedding / LM head in NNCF's default precision (its tied-head "
                    "rewrite expects that); drop `head` from the preset or export with FORMAT=openvino")
        return None

    def convert(self, checkpoint: Path, out: Path, cache_dir: Path) -> tuple[str, dict | None]:
        return "float32", trace_decoder(checkpoint, out / MODEL_ONNX)

    def calibration_inputs(self, src: Path):
        import onnx

        graph = onnx.load(src / MODEL_ONNX, load_external_data=False).graph
        shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in graph.input}
        return onnx_inputs({name: (shape[1], shape[3]) for name, shape in shapes.items()
                            if name.startswith("past_key_values.")})

    def compress(self, checkpoint: Path, src: Path, dst: Path, preset: QuantPreset, *, dataset=None,
                 statistics_path: str | None = None, gguf: Path | None = None) -> dict:
        # NNCF 3.4 caches statistics for OpenVINO models only, so statistics_path is unused.
        if preset.int8_groups:  # our own writer, not NNCF (int8_groups.py)
            done = {"int8_groups": write_int8_groups_onnx(src / MODEL_ONNX, dst / MODEL_ONNX, preset.group_size)}
        else:
            done = {"onnx_rewrites": compress_onnx(src / MODEL_ONNX, dst / MODEL_ONNX, preset, dataset)}
        os.chmod(dst / (MODEL_ONNX + ".data"), 0o644)  # onnx 1.23 creates it 0600
        for name in SIDE_FILES:
            if (checkpoint / name).exists():
                shutil.copyfile(checkpoint / name, dst / name)
        return done

    def check(self, folder: Path, facts: dict | None) -> None:
        check_onnx(folder / MODEL_ONNX, facts)

