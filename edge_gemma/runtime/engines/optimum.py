"""Engine `optimum`: optimum-intel's OVModelForCausalLM on the stateful IR (what LocalAI runs).

We drive its `forward` one step at a time instead of `generate`, so that the KV cache (held
in the IR's ReadValue/Assign states) survives between chat turns: optimum-intel 2.2.0 resets
the states when `past_key_values` is None and keeps them when it is its marker `((),)`
(modeling_decoder.py, OVModelForCausalLM.prepare_inputs).
"""

from __future__ import annotations

from pathlib import Path

from .stepped import SteppedEngine

PAST = ((),)  # optimum-intel's "states hold the past" marker for stateful models


class OptimumEngine(SteppedEngine):
    name = "optimum"
    format = "openvino"
    devices = ("CPU", "GPU")

    def __init__(self, export_dir: Path, device: str, config: dict):
        from optimum.intel import OVModelForCausalLM

        super().__init__()
        self.device = device
        self.model = OVModelForCausalLM.from_pretrained(export_dir, device=device, ov_config=config, compile=True)

    def _step(self, new_ids: list[int], total: int):
        import torch

        out = self.model(
            input_ids=torch.tensor([new_ids]),
            attention_mask=torch.ones(1, total, dtype=torch.int64),
            past_key_values=PAST if total > len(new_ids) else None,  # something is cached
        )
        return out.logits[0, -1].numpy()
