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
from ..families import GGUF_ARCHS
from ..files import CACHE_FIX, file_sha256, one_process_at_a_time, staged_directory
# Bump when the conversion changes, so cached checkpoints from older code are not reused.
CONVERTER_VERSION = 1


# GGUF metadata value types and their sizes (gguf-py's GGUFValueType); 8 is a string, 9 an array.
_SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_architecture(path: Path) -> str:
    """general.architecture of a GGUF file, read from its header.

    gguf-py's GGUFReader parses every metadata field first, the 262144 token strings of a Gemma
    vocabulary included: 25-40 s for this one key on 2 cores. The header is a list of
    (key, type, value) records, so this walks them until the key, usually the first.
    """
    import struct

    def fail(why: str):
        raise SourceError(f"{path} is not a readable GGUF file ({why}); pass a .gguf model file")

    try:
        with open(path, "rb") as f:
            def read(n: int) -> bytes:
                data = f.read(n)
                if len(data) != n:
                    fail("it ends inside its header")
                return data

            def string() -> str:
                return read(struct.unpack("<Q", read(8))[0]).decode("utf-8", "replace")

            def skip(kind: int) -> None:
                if kind == 8:
                    string()
                elif kind == 9:
                    inner, count = struct.unpack("<IQ", read(12))
                    if inner in _SCALAR_BYTES:
                        f.seek(_SCALAR_BYTES[inner] * count, 1)
                    else:
                        for _ in range(count):
                            skip(inner)
                elif kind in _SCALAR_BYTES:
                    read(_SCALAR_BYTES[kind])
                else:
                    fail(f"unknown metadata type {kind}")

            if read(4) != b"GGUF":
                fail("no GGUF magic")
            _version, _tensors, fields = struct.unpack("<IQQ", read(20))
            for _ in range(fields):
                key, kind = string(), struct.unpack("<I", read(4))[0]
                if key == "general.architecture" and kind == 8:
                    return string()
                skip(kind)
    except OSError as exc:
        fail(exc.strerror or str(exc))
    raise SourceError(f"{path} has no general.architecture; pass a GGUF file of a Gemma model")


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
    from transformers import AutoModelForCausalLM

    from .gguf_tokenizer import tokenizer_from_gguf

    with staged_directory(target, fix=CACHE_FIX) as (_, result):
        log(f"dequantizing {path.name} to a bfloat16 checkpoint")
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.bfloat16
        )
        model.save_pretrained(result)
        del model
        log("rebuilding the tokenizer from the GGUF vocabulary")
        tokenizer_from_gguf(path).save_pretrained(result)
    return target
