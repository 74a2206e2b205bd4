"""A first runtime check: load an export with optimum-intel on CPU, greedy-decode a prompt.

The full runtime wrapper (engines, devices, chat, streaming) builds on this later.
"""

from __future__ import annotations

from pathlib import Path

from .errors import RuntimeCheckError
from .layout import MANIFEST, MODEL_XML
from .manifest import read_manifest


def check_export_dir(export_dir: Path) -> dict:
    """The manifest of an export folder, or a clear error if it is not one."""
    if not (export_dir / MODEL_XML).is_file() or not (export_dir / MANIFEST).is_file():
        raise RuntimeCheckError(
            f"{export_dir} is not an edge-gemma export (no {MODEL_XML} and {MANIFEST}); "
            "make one with `make export MODEL=... QUANT=...`"
        )
    return read_manifest(export_dir)


class ExportedModel:
    """An export loaded with OVModelForCausalLM, plus its tokenizer and stop tokens."""

    def __init__(self, export_dir: str | Path, device: str = "CPU"):
        from optimum.intel import OVModelForCausalLM
        from transformers import AutoTokenizer

        self.dir = Path(export_dir)
        manifest = check_export_dir(self.dir)
        self.context_size = manifest["recipe"]["context_size"]
        self.tokenizer = AutoTokenizer.from_pretrained(self.dir)
        self.model = OVModelForCausalLM.from_pretrained(self.dir, device=device)
        # Gemma ends a turn with <end_of_turn> and a text with <eos>; stop at either.
        vocab = self.tokenizer.get_vocab()
        self.stop_ids = [vocab[w] for w in manifest["recipe"]["stop_words"] if w in vocab]

    def generate_ids(self, prompt: str, max_new_tokens: int = 64) -> list[int]:
        """Greedy new token ids for a raw prompt (the tokenizer adds <bos>)."""
        if not prompt.strip():
            raise RuntimeCheckError("the prompt is empty; pass some text to complete")
        inputs = self.tokenizer(prompt, return_tensors="pt")
        length = inputs["input_ids"].shape[1]
        if length + max_new_tokens > self.context_size:
            raise RuntimeCheckError(
                f"prompt of {length} tokens plus {max_new_tokens} new tokens exceeds the context "
                f"of {self.context_size}; shorten the prompt or lower --max-new-tokens"
            )
        out = self.model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=self.stop_ids
        )
        return out[0, length:].tolist()

    def generate(self, prompt: str, max_new_tokens: int = 64) -> str:
        ids = self.generate_ids(prompt, max_new_tokens)
        return self.tokenizer.decode(ids, skip_special_tokens=True)
