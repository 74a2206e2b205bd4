"""Turn a Gemma GGUF file into a Hugging Face checkpoint folder that optimum-intel exports.

Weights: dequantized as transformers would (gguf_tensors.py, with gguf-py), read from one
pass over the header; we keep them in bfloat16, Gemma's own dtype, so the export never runs a
silent fp32 upcast.
Tokenizer: rebuilt from the GGUF vocabulary by gguf_tokenizer.py, because transformers'
conversion is wrong for Gemma 3 (see that module); tokenizer.json for transformers and
tokenizer.model (SentencePiece) for the tokenizer IR.

Results are cached by the GGUF's sha256 and staged (files.py), so an interrupted
conversion never looks finished.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SourceError
from ..families import GGUF_ARCHS
from ..files import CACHE_FIX, file_sha256, one_process_at_a_time, staged_directory
from .gguf_header import gguf_architecture, read_header

# Bump when the conversion changes, so cached checkpoints from older code are not reused.
# (v1 and v2 hold the same files: v2 only reads the GGUF once, gguf_tensors.py; v3 adds
# tokenizer.model.)
CONVERTER_VERSION = 3


def checkpoint_from_gguf(path: Path, cache_dir: Path, log=print) -> Path:
    """A cached Hugging Face folder (bf16 safetensors, tokenizer) made from a GGUF file."""
    arch = gguf_architecture(path)
    if arch not in GGUF_ARCHS:
        # transformers 5.5.4's GGUF loader (integrations/ggml.py GGUF_CONFIG_MAPPING) has gemma2 and
        # gemma3 only; a gemma3n or gemma4 GGUF also stacks and renames tensors its own way (field notes).
        raise SourceError(
            f"{path} holds a '{arch}' model; GGUF sources can be {', '.join(GGUF_ARCHS)} "
            "(transformers 5.5.4 loads no other Gemma GGUF): pass the Hugging Face checkpoint folder instead"
        )
    target = cache_dir / f"{path.stem}-{file_sha256(path)[:16]}-v{CONVERTER_VERSION}"
    with one_process_at_a_time(target):
        if (target / "config.json").is_file():
            log(f"using cached checkpoint {target}")
            return target
        return _convert(path, target, log)


def _convert(path: Path, target: Path, log) -> Path:
    import torch

    from .gguf_tensors import gguf_model
    from .gguf_tokenizer import read_vocab, sentencepiece_model, tokenizer_from_vocab

    header = read_header(path, arrays=True)
    with staged_directory(target, fix=CACHE_FIX) as (_, result):
        log(f"dequantizing {path.name} to a bfloat16 checkpoint")
        model = gguf_model(path, header, torch.bfloat16)
        model.save_pretrained(result)
        del model
        log("rebuilding the tokenizer from the GGUF vocabulary")
        vocab = read_vocab(path, header)
        tokenizer_from_vocab(vocab).save_pretrained(result)
        (result / "tokenizer.model").write_bytes(sentencepiece_model(vocab))
    return target
