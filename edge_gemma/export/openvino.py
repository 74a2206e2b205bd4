"""The OpenVINO backend of the export: a stateful IR made by optimum-intel, compressed by NNCF.

convert: optimum-intel writes a 16-bit stateful IR, the OpenVINO tokenizer IRs and the
Hugging Face configs; compress: NNCF compresses the IR's weights (compression.py) and the
other files move over; check: the IR keeps its KV cache in state variables and the
tokenizer IRs are there. The driver (driver.py) runs these in order.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from ..errors import ExportError
from ..export_folder import MODEL_XML
from ..memory import available_memory
from ..recipes import QuantPreset
from .awq_memory import fit_awq
from .calibration import openvino_inputs
from .compression import compress, nncf_arguments
from .experts import compress_experts
from .optimum_gemma import optimum_for_gemma
from .gguf_weights import keep_gguf_weights
from .int8_groups import write_int8_groups
from .tables import compress_tables
from .sentencepiece_ir import tokenizer_ir_kind
from .tokenizer_irs import cached_tokenizer_irs


def export_16bit(checkpoint: Path, output: Path) -> str:
    """optimum-intel's export: stateful 16-bit IR, tokenizer IRs, configs.

    The model is loaded in its checkpoint dtype (bf16 for Gemma) and traced with f32
    activations; the matrices (every Linear and embedding: optimum_gemma.py, change 6) go into
    the IR in that dtype, shared with the memory-mapped checkpoint rather than copied, and the
    few f32 constants left are saved as fp16. Passing OVConfig(dtype="fp16") also stops the
    size-based silent int8 of optimum-intel 2.2.0.
    """
    import torch
    from optimum.exporters.openvino import main_export
    from optimum.intel import OVConfig
    from transformers import AutoConfig

    dtype = AutoConfig.from_pretrained(checkpoint).dtype or torch.bfloat16
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    with warnings.catch_warnings(), optimum_for_gemma():
        # torch.jit tracing warns for every data-dependent branch in the Gemma code.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        main_export(
            str(checkpoint),
            output,
            task="text-generation-with-past",
            ov_config=OVConfig(dtype="fp16"),
            # optimum-intel 2.2.0 reads this key (and sets it itself), so not `dtype`.
            model_loading_kwargs={"torch_dtype": dtype},
            stateful=True,
            convert_tokenizer=True,
            library_name="transformers",
        )
    return str(dtype).removeprefix("torch.")


def compress_ir(src: Path, dst: Path, preset: QuantPreset, dataset=None,
                statistics_path: str | None = None) -> tuple[dict, QuantPreset]:
    """NNCF-compress src's model into dst, the fused MoE expert weights a layer at a time
    (experts.py) and the big tables block by block (tables.py) first, AWQ only if its copies fit
    (awq_memory.py): what these did, for the manifest, and the preset NNCF then ran."""
    import openvino as ov

    model = ov.Core().read_model(src / MODEL_XML)
    preset, dropped = fit_awq(model, preset, available_memory())
    if dropped:
        print(f"      {dropped}", file=sys.stderr, flush=True)
    done = {"awq_dropped": dropped, "experts_compressed_apart": compress_experts(model, preset)}
    done["tables_compressed_by_rows"], preset = compress_tables(model, preset)
    model = compress(model, preset, dataset=dataset, statistics_path=statistics_path)
    ov.save_model(model, dst / MODEL_XML, compress_to_fp16=False)
    return {k: v for k, v in done.items() if v}, preset


def rewrite_ir(src: Path, dst: Path, rewrite) -> dict:
    """src's model with its weights rewritten in place by `rewrite(model)` (the GGUF's own blocks,
    gguf_weights.py; int8 in groups, int8_groups.py), into dst; what `rewrite` returned."""
    import openvino as ov

    model = ov.Core().read_model(src / MODEL_XML)
    done = rewrite(model)
    ov.save_model(model, dst / MODEL_XML, compress_to_fp16=False)
    return done


def check_ir(folder: Path) -> None:
    """The export is stateful (KV cache in ReadValue/Assign) and has its tokenizer IRs."""
    import openvino as ov

    xml = folder / MODEL_XML
    if not ov.Core().read_model(xml).get_sinks():
        raise ExportError(f"{xml} is not stateful (no KV-cache state); optimum-intel export changed?")
    for name in ("openvino_tokenizer.xml", "openvino_detokenizer.xml"):
        if not (folder / name).is_file():
            raise ExportError(f"{name} was not written; is openvino-tokenizers installed? run `make install`")


class OpenVINOBackend:
    format = "openvino"
    model_file = MODEL_XML
    convert_step = "exporting a stateful 16-bit OpenVINO IR with optimum-intel"
    check_step = "checking the IR and counting bitwidths"

    def refuse(self, family, preset: QuantPreset) -> str | None:
        return None  # every family and quant level has an OpenVINO form

    def convert(self, checkpoint: Path, out: Path, cache_dir: Path) -> tuple[str, dict | None]:
        with cached_tokenizer_irs(checkpoint, cache_dir):
            load_dtype = export_16bit(checkpoint, out)
        return load_dtype, {"tokenizer_ir": tokenizer_ir_kind(out)}

    def calibration_inputs(self, src: Path):
        return openvino_inputs

    def compress(self, checkpoint: Path, src: Path, dst: Path, preset: QuantPreset, *, dataset=None,
                 statistics_path: str | None = None, gguf: Path | None = None) -> dict:
        extra = {}
        if preset.weights == "gguf":
            extra = {"gguf": rewrite_ir(src, dst, lambda model: keep_gguf_weights(model, gguf))}
        elif preset.int8_groups:
            extra = {"int8_groups": rewrite_ir(src, dst, lambda model: write_int8_groups(model, preset.group_size))}
        elif preset.weights != "fp16":
            done, ran = compress_ir(src, dst, preset, dataset, statistics_path)
            if done:  # and what NNCF was given (all_layers may differ from the recipe's: tables.compress_tables)
                extra = {**done, "nncf": nncf_arguments(ran)}
        for item in src.iterdir():  # tokenizer IRs, configs (and the model itself for fp16)
            if not (dst / item.name).exists():
                os.replace(item, dst / item.name)
        return extra

    def check(self, folder: Path, facts: dict | None) -> None:
        check_ir(folder)
