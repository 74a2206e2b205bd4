"""Engine `optimum`: optimum-intel's OVModelForCausalLM on the stateful IR (what LocalAI runs).

We drive its `forward` one step at a time instead of `generate`, so that the KV cache (held
in the IR's ReadValue/Assign states) survives between chat turns: optimum-intel 2.2.0 resets
the states when `past_key_values` is None and keeps them when it is its marker `((),)`
(modeling_decoder.py, OVModelForCausalLM.prepare_inputs).

The exported IR computes logits for every position of its input: 262144 floats a token, 512
MB for a 512-token prompt, of which the decode loop reads one row. Before compiling, the
hidden states are sliced to the last position ahead of the LM head (what openvino-genai does
to the same IR on load), so prefill costs one row of logits.
"""

from __future__ import annotations

from pathlib import Path

from .stepped import SteppedEngine

PAST = ((),)  # optimum-intel's "states hold the past" marker for stateful models


def last_position_logits(model) -> None:
    """Make `model` (an ov.Model with a "logits" output) compute the last position's logits only.

    From the logits back through elementwise ops (Gemma 2's softcap, a Convert) to the LM
    head MatMul, following the one input whose shape depends on the sequence (the others are
    constants, possibly behind a Convert); the MatMul's hidden-state input gets a Slice of the
    last position on axis 1.
    """
    import numpy as np
    import openvino.opset13 as ops

    node = model.output("logits").get_node().input_value(0).get_node()
    while node.get_type_name() != "MatMul":
        inputs = [v for v in node.input_values() if not v.get_partial_shape().is_static]
        if len(inputs) != 1:
            raise ValueError(f"no LM head MatMul above the logits (stopped at {node.get_type_name()})")
        node = inputs[0].get_node()
    hidden = node.input_value(0)
    last = ops.slice(hidden, np.array([-1]), np.array([np.iinfo(np.int64).max]), np.array([1]), np.array([1]))
    node.input(0).replace_source_output(last.output(0))
    model.validate_nodes_and_infer_types()


class OptimumEngine(SteppedEngine):
    name = "optimum"
    format = "openvino"
    devices = ("CPU", "GPU")

    def __init__(self, export_dir: Path, device: str, config: dict):
        from optimum.intel import OVModelForCausalLM

        super().__init__(export_dir)
        self.device = device
        self.model = OVModelForCausalLM.from_pretrained(export_dir, device=device, ov_config=config, compile=False)
        last_position_logits(self.model.model)
        self.model.compile()

    def _step(self, new_ids: list[int], total: int):
        import torch

        out = self.model(
            input_ids=torch.tensor([new_ids]),
            attention_mask=torch.ones(1, total, dtype=torch.int64),
            past_key_values=PAST if total > len(new_ids) else None,  # something is cached
        )
        return out.logits[0, -1].numpy()
