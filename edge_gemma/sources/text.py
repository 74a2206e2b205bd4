"""The text decoder of a multimodal Gemma checkpoint, as a Hugging Face checkpoint of its own.

Gemma 3 (4B and up), Gemma 3n and Gemma 4 are published as `...ForConditionalGeneration`
checkpoints: a vision (and audio) tower, a projector and a language model. transformers 5.x
loads such a checkpoint into the text class (`Gemma3ForCausalLM`, ...) with every text weight
missing and randomly initialised, and only warns (field notes). So the language model's
tensors are copied out by name, one shard at a time (no model is built: a 27B checkpoint does
not need 54 GB of memory), renamed to the text class's keys, checked against the keys that
class expects (a key left out is an error, never a random weight), and saved with the text
config and the tokenizer. The towers are left out. Results are cached like GGUF conversions.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from ..errors import SourceError
from ..families import FAMILIES, MULTIMODAL
from ..files import CACHE_FIX, staged_directory

# Where the language model's weights sit in a multimodal checkpoint, longest first: Google's
# Gemma 3 files (`language_model.model.`), Gemma 3n / 4 files and transformers 5's own layout
# (`model.language_model.`), and what transformers 5.5.4 writes when it saves a Gemma 3
# (`model.language_model.model.`). The text class keeps them under `model.`.
PREFIXES = ("model.language_model.model.", "language_model.model.", "model.language_model.")
HEADS = ("lm_head.weight", "language_model.lm_head.weight", "model.language_model.lm_head.weight")
# The text class of each family (what config.json's `architectures` names).
TEXT_CLASSES = {"gemma3_text": "Gemma3ForCausalLM", "gemma3n_text": "Gemma3nForCausalLM",
                "gemma4_text": "Gemma4ForCausalLM"}
# Files a text checkpoint keeps; processor and image configs are the towers'.
SKIP = {"config.json", "model.safetensors.index.json", "preprocessor_config.json", "processor_config.json",
        "video_preprocessor_config.json"}
VERSION = 1  # bump when the extraction changes, so cached results are rebuilt


def text_key(name: str) -> str | None:
    """The text class's name for a multimodal checkpoint's tensor; None for a tower's."""
    if name in HEADS:
        return "lm_head.weight"
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return "model." + name[len(prefix):]
    return None


def _shards(folder: Path) -> list[Path]:
    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        raise SourceError(f"{folder} has no .safetensors weights; pass a checkpoint saved with safetensors")
    return shards


def _cache_key(folder: Path, shards: list[Path]) -> str:
    # Names, sizes and the config: hashing tens of GB of weights would cost minutes.
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for shard in shards:
        digest.update(f"{shard.name}:{shard.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def _text_config(folder: Path, family: str):
    from transformers import AutoConfig

    full = AutoConfig.from_pretrained(folder)
    text = full.get_text_config()
    text.architectures = [TEXT_CLASSES[family]]
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if getattr(text, name, None) is None and getattr(full, name, None) is not None:
            setattr(text, name, getattr(full, name))
    text.dtype = text.dtype or full.dtype or "bfloat16"
    return text


def _expected_keys(config) -> set[str]:
    """The state-dict keys the text class has, from a model built on the meta device."""
    import torch
    import transformers

    with torch.device("meta"):
        model = getattr(transformers, config.architectures[0])(config)
    keys = set(model.state_dict())
    if config.tie_word_embeddings:
        keys.discard("lm_head.weight")
    return keys


def text_checkpoint(folder: Path, cache_dir: Path, log=print) -> Path:
    """A cached text-only checkpoint of the multimodal checkpoint `folder`."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    wrapper = json.loads((folder / "config.json").read_text())["model_type"]
    family = MULTIMODAL[wrapper]
    shards = _shards(folder)
    target = cache_dir / f"{folder.name}-text-{_cache_key(folder, shards)}-v{VERSION}"
    if (target / "config.json").is_file():
        log(f"using cached text decoder {target}")
        return target
    log(f"taking the {FAMILIES[family].generation} text decoder out of the multimodal '{wrapper}' checkpoint "
        "(vision/audio towers left out)")
    config = _text_config(folder, family)
    expected, found, weight_map = _expected_keys(config), set(), {}
    with staged_directory(target, fix=CACHE_FIX) as (_, result):
        for index, shard in enumerate(shards, 1):
            with safe_open(shard, framework="pt") as f:
                names = {name: text_key(name) for name in f.keys()}
                tensors = {key: f.get_tensor(name) for name, key in names.items() if key in expected}
            if tensors:
                save_file(tensors, result / shard.name, metadata={"format": "pt"})
                weight_map.update(dict.fromkeys(tensors, shard.name))
                found.update(tensors)
            log(f"  shard {index}/{len(shards)}: {len(tensors)} text tensors")
        missing = expected - found
        if missing:
            raise SourceError(
                f"{folder}: {len(missing)} weights of the text decoder were not found (e.g. {sorted(missing)[0]}); "
                "its tensor names are not a layout edge_gemma knows: pass the checkpoint as published by Google")
        config.save_pretrained(result)
        (result / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": dict(sorted(weight_map.items()))}, indent=2))
        for item in folder.iterdir():
            if item.is_file() and item.name not in SKIP and item.suffix in (".json", ".jinja", ".model"):
                shutil.copy(item, result / item.name)
    return target
