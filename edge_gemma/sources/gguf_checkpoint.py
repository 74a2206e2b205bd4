"""Turn a Gemma GGUF file into a Hugging Face checkpoint folder that optimum-intel exports.

Weights: transformers dequantizes the GGUF tensors (needs the `gguf` package); we keep them
in bfloat16, Gemma's own dtype, so the export never runs a silent fp32 upcast.
Tokenizer: rebuilt from the GGUF vocabulary by gguf_tokenizer.py, because transformers'
conversion is wrong for Gemma 3 (see that module).

Results are cached by the GGUF's sha256 and staged (files.py), so an interrupted
conversion never looks finished.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SourceError
from ..files import file_sha256, staged_directory

# GGUF architectures transformers 5.0.0 can load (transformers.integrations.ggml.GGUF_CONFIG_MAPPING).
GGUF_ARCHITECTURES = ("gemma2", "gemma3")
# Bump when the conversion changes, so cached checkpoints from older code are not reused.
CONVERTER_VERSION = 1


def gguf_architecture(path: Path) -> str:
    import gguf

    try:
        field = gguf.GGUFReader(str(path)).fields.get("general.architecture")
    except Exception as exc:  # gguf raises ValueError/struct.error on foreign files
        raise SourceError(f"{path} is not a readable GGUF file ({exc}); pass a .gguf model file") from None
    if field is None:
        raise SourceError(f"{path} has no general.architecture; pass a GGUF file of a Gemma model")
    return field.contents()


def checkpoint_from_gguf(path: Path, cache_dir: Path, log=print) -> Path:
    """A cached Hugging Face folder (bf16 safetensors, tokenizer) made from a GGUF file."""
    arch = gguf_architecture(path)
    if arch not in GGUF_ARCHITECTURES:
        raise SourceError(
            f"{path} holds a '{arch}' model; GGUF sources can be {', '.join(GGUF_ARCHITECTURES)} "
            "(transformers 5.0.0 cannot load other Gemma GGUFs): pass a Hugging Face folder instead"
        )
    target = cache_dir / f"{path.stem}-{file_sha256(path)[:16]}-v{CONVERTER_VERSION}"
    if (target / "config.json").is_file():
        log(f"using cached checkpoint {target}")
        return target

    import torch
    from transformers import AutoModelForCausalLM

    from .gguf_tokenizer import tokenizer_from_gguf

    with staged_directory(target, fix="set EDGE_GEMMA_CACHE (or --cache-dir) to a writable folder") as (_, result):
        log(f"dequantizing {path.name} to a bfloat16 checkpoint")
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.bfloat16
        )
        model.save_pretrained(result)
        del model
        log("rebuilding the tokenizer from the GGUF vocabulary")
        tokenizer_from_gguf(path).save_pretrained(result)
    return target
