"""The Gemma families edge_gemma exports, as plain data: one row per text decoder.

A recipe's `family` is the text decoder's `model_type`. Gemma 3 (4B and up), Gemma 3n and
Gemma 4 checkpoints are multimodal: their `model_type` is the wrapper's (`gemma3`, ...), and
sources/text.py takes the text decoder and its head out of them before export.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str  # the text decoder's model_type: what a recipe names
    generation: str  # what users call it
    multimodal: str = ""  # model_type of the multimodal checkpoint that holds this decoder
    onnx_refusal: str = ""  # why `--format onnx` cannot follow; empty when it can
    gguf_arch: str = ""  # general.architecture of a GGUF that loads as this family


# ONNX: edge_gemma's ONNX decoder (export/onnx/decoder.py) is one KV pair per layer; Gemma 3n
# and 4 share KV across layers and add per-layer inputs, which that graph does not carry.
_SHARED_KV = "its layers share KV caches and take per-layer inputs, which the ONNX decoder does not model"

FAMILIES = {
    "gemma": Family("gemma", "Gemma 1 / 1.1"),
    "gemma2": Family("gemma2", "Gemma 2", gguf_arch="gemma2"),
    "gemma3_text": Family("gemma3_text", "Gemma 3", multimodal="gemma3", gguf_arch="gemma3"),
    "gemma3n_text": Family("gemma3n_text", "Gemma 3n", multimodal="gemma3n", onnx_refusal=_SHARED_KV),
    "gemma4_text": Family("gemma4_text", "Gemma 4", multimodal="gemma4", onnx_refusal=_SHARED_KV),
}
# The multimodal checkpoint's model_type -> the family of its text decoder.
MULTIMODAL = {f.multimodal: f.name for f in FAMILIES.values() if f.multimodal}
GGUF_ARCHS = {f.gguf_arch: f.name for f in FAMILIES.values() if f.gguf_arch}


def supported() -> str:
    """The families in one line, for errors."""
    names = [f"{f.name} ({f.generation})" for f in FAMILIES.values()]
    return ", ".join(names) + "; multimodal " + ", ".join(MULTIMODAL) + " checkpoints export their text decoder"
