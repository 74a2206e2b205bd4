"""Export a recipe's checkpoint to a stateful OpenVINO IR, compressed with NNCF.

Steps: resolve the source to a Hugging Face folder (sources.py); export a 16-bit IR with
optimum-intel, plus the OpenVINO tokenizer IRs; compress its weights with NNCF
(compression.py); read the bitwidths back (bitwidth.py); write manifest.json. All of it is
built in a staging folder and renamed into place at the end (atomic.py).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from .atomic import staged_directory
from .bitwidth import bitwidth_stats
from .compression import compress, nncf_arguments
from .errors import ExportError
from .export_common import StepLog, checked_checkpoint, checkpoint_view
from .layout import MODEL_XML
from .manifest import write_manifest
from .recipes import Recipe
from .sources import Source


def export_16bit(checkpoint: Path, output: Path) -> str:
    """optimum-intel's export: stateful IR with fp16 weights, tokenizer IRs, configs.

    The model is loaded in its checkpoint dtype (bf16 for Gemma) and traced in it; only the
    saved weights become fp16 (bf16 -> fp16 is exact for normal-range weights). Passing
    OVConfig(dtype="fp16") also stops the size-based silent int8 of optimum-intel 2.2.0.
    """
    import torch
    from optimum.exporters.openvino import main_export
    from optimum.intel import OVConfig
    from transformers import AutoConfig

    dtype = AutoConfig.from_pretrained(checkpoint).dtype or torch.bfloat16
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    with warnings.catch_warnings():
        # torch.jit tracing warns for every data-dependent branch in the Gemma code.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        main_export(
            str(checkpoint),
            output,
            task="text-generation-with-past",
            ov_config=OVConfig(dtype="fp16"),
            model_loading_kwargs={"torch_dtype": dtype},
            stateful=True,
            convert_tokenizer=True,
            library_name="transformers",
        )
    return str(dtype).removeprefix("torch.")


def compress_ir(src: Path, dst: Path, preset) -> None:
    """NNCF-compress src's model into dst; move every other file (tokenizers, configs) over."""
    import openvino as ov

    model = compress(ov.Core().read_model(src / MODEL_XML), preset)
    ov.save_model(model, dst / MODEL_XML, compress_to_fp16=False)
    del model
    for item in src.iterdir():
        if not item.name.startswith("openvino_model."):
            os.replace(item, dst / item.name)


def check_ir(xml: Path) -> dict:
    """The export is stateful (KV cache in ReadValue/Assign); return its bitwidths."""
    import openvino as ov

    model = ov.Core().read_model(xml)
    if not model.get_sinks():
        raise ExportError(f"{xml} is not stateful (no KV-cache state); optimum-intel export changed?")
    for name in ("openvino_tokenizer.xml", "openvino_detokenizer.xml"):
        if not (xml.parent / name).is_file():
            raise ExportError(f"{name} was not written; is openvino-tokenizers installed? run `make install`")
    return bitwidth_stats(model)


def export_openvino(
    recipe: Recipe,
    quant: str,
    source: Source,
    output: Path,
    cache_dir: Path,
    force: bool = False,
    log: StepLog | None = None,
) -> dict:
    """Write the export to `output`; return its manifest."""
    preset = recipe.preset(quant)
    log = log or StepLog(5)
    checkpoint = checked_checkpoint(recipe, source, cache_dir, output, force, log)

    with staged_directory(output) as (work, result):
        view = checkpoint_view(checkpoint, recipe, work / "checkpoint")
        log.step("exporting a stateful 16-bit OpenVINO IR with optimum-intel")
        ir_16bit = result if preset.weights == "fp16" else work / "fp16"
        load_dtype = export_16bit(view, ir_16bit)
        nncf_args = nncf_arguments(preset)
        log.step(f"compressing weights with NNCF: {nncf_args or 'none (fp16)'}")
        if preset.weights != "fp16":
            compress_ir(ir_16bit, result, preset)
        log.step("checking the IR and counting bitwidths")
        bitwidths = check_ir(result / MODEL_XML)
        log.step("writing manifest.json")
        manifest = write_manifest(
            result,
            model=recipe.name,
            quant=quant,
            format="openvino",
            recipe=recipe.as_dict(),
            source={"kind": source.kind, "location": source.location, "checkpoint": str(checkpoint),
                    "load_dtype": load_dtype},
            compression={"preset": vars(preset).copy(), "nncf": nncf_args, "bitwidth": bitwidths},
        )
    return manifest
