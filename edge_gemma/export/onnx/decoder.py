"""The PyTorch module we trace to ONNX: one decoder step with the KV cache as plain tensors.

Graph inputs:  input_ids [batch, seq], attention_mask [batch, past + seq],
               past_key_values.<i>.key / .value [batch, kv_heads, past, head_dim]
Graph outputs: logits [batch, 1, vocab] (the last position only), present.<i>.key / .value
               [batch, kv_heads, past + seq, head_dim]

Why our own wrapper instead of an exporter's: optimum 2.3 has no ONNX exporter and
optimum-onnx 0.1 cannot share transformers 5.0 with optimum-intel (field notes).
Why these choices:
- Every layer keeps its whole KV history and sliding-window layers get a windowed mask
  built here from plain comparisons. transformers' own hybrid cache drops old entries of
  sliding layers, which gives layers different past lengths, and its mask code is where
  ONNX exports of Gemma 2/3 went wrong past the window; a mask we write is one we can test.
- Only the last position's logits: the LM head over a 512-token prompt would be a
  512 x 262144 float matrix (512 MB) that generation never reads.
- Eager attention: Gemma 2 soft-caps attention scores, which SDPA cannot express.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.cache_utils import DynamicCache


def kv_names(layers: int) -> tuple[list[str], list[str]]:
    past, present = [], []
    for i in range(layers):
        for kind in ("key", "value"):
            past.append(f"past_key_values.{i}.{kind}")
            present.append(f"present.{i}.{kind}")
    return past, present


def sliding_window(config) -> int | None:
    """The window of the config's sliding-attention layers; None if it has none (Gemma 1)."""
    if "sliding_attention" in (getattr(config, "layer_types", None) or []):
        return config.sliding_window
    return None


class DecoderStep(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.layers = model.config.num_hidden_layers
        self.window = sliding_window(model.config)
        self.uses_mask_dict = model.config.model_type != "gemma"  # Gemma 2/3 take one mask per layer type
        self.softcap = getattr(model.config, "final_logit_softcapping", None)

    def forward(self, input_ids, attention_mask, *past):
        cache = DynamicCache()  # no config: plain full-history layers (see the module docstring)
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        past_len, seq = past[0].shape[2], input_ids.shape[1]
        query = torch.arange(seq).unsqueeze(1) + past_len  # [seq, 1], positions in the key axis
        key = torch.arange(attention_mask.shape[1]).unsqueeze(0)  # [1, past + seq]
        allowed = (key <= query).unsqueeze(0) & attention_mask.bool().unsqueeze(1)  # [batch, seq, total]
        full = _additive(allowed)
        if self.uses_mask_dict:
            sliding = _additive(allowed & (query - key < self.window).unsqueeze(0)) if self.window else full
            mask = {"full_attention": full, "sliding_attention": sliding}
        else:
            mask = full
        out = self.model.model(input_ids=input_ids, attention_mask=mask, position_ids=query.transpose(0, 1),
                               past_key_values=cache, use_cache=True)
        logits = self.model.lm_head(out.last_hidden_state[:, -1:, :])
        if self.softcap:  # Gemma 2; done in *ForCausalLM.forward, which we bypass
            logits = torch.tanh(logits / self.softcap) * self.softcap
        presents = []
        for layer in cache.layers:
            presents += [layer.keys, layer.values]
        return (logits, *presents)


def _additive(allowed: torch.Tensor) -> torch.Tensor:
    """[batch, seq, total] booleans -> [batch, 1, seq, total] float mask (0 or the float minimum).

    The minimum rather than -inf, so a fully masked row (left padding) gives no NaN.
    """
    return torch.where(allowed, 0.0, torch.finfo(torch.float32).min).unsqueeze(1)
