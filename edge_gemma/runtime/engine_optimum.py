"""Engine `optimum`: optimum-intel's OVModelForCausalLM on the stateful IR (what LocalAI runs).

We drive its `forward` one step at a time instead of `generate`, so that the KV cache (held
in the IR's ReadValue/Assign states) survives between chat turns: optimum-intel 2.2.0 resets
the states when `past_key_values` is None and keeps them when it is its marker `((),)`
(modeling_decoder.py, OVModelForCausalLM.prepare_inputs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .decode_loop import decode
from .options import GenerationOptions

PAST = ((),)  # optimum-intel's "states hold the past" marker for stateful models


class OptimumEngine:
    name = "optimum"
    format = "openvino"

    def __init__(self, export_dir: Path, device: str, config: dict):
        from optimum.intel import OVModelForCausalLM

        self.device = device
        self.model = OVModelForCausalLM.from_pretrained(export_dir, device=device, ov_config=config, compile=True)
        self.tokens: list[int] = []  # the sequence so far; all but the last are in the KV cache
        self._in_cache = 0

    def reset(self) -> None:
        self.tokens, self._in_cache = [], 0

    def _step(self, new_ids: list[int], total: int):
        import torch

        out = self.model(
            input_ids=torch.tensor([new_ids]),
            attention_mask=torch.ones(1, total, dtype=torch.int64),
            past_key_values=PAST if total > len(new_ids) else None,  # something is cached
        )
        return out.logits[0, -1].numpy()

    def generate(self, new_ids: list[int], options: GenerationOptions, stop_ids: set[int],
                 on_token: Callable[[int], bool]) -> None:
        """Append `new_ids`, then decode until a stop id, max_new_tokens or on_token -> True."""
        self.tokens += new_ids
        self._in_cache = decode(self._step, self.tokens, self._in_cache, options, stop_ids, on_token)
