"""Engine `ort`: ONNX Runtime (CPU) on an ONNX export (export_onnx.py).

The graph takes the KV cache as inputs and returns it grown by the new tokens
(onnx_decoder.py), so this engine holds it as numpy arrays between calls; that is also
how a chat turn reuses the previous one's cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..layout import MODEL_ONNX
from .decode_loop import decode
from .options import GenerationOptions


def empty_past(session) -> dict[str, np.ndarray]:
    """An empty KV cache for the session's inputs: [batch 1, kv_heads, 0 tokens, head_dim]."""
    return {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
            for i in session.get_inputs() if i.name.startswith("past_key_values.")}


class OrtEngine:
    name = "ort"
    format = "onnx"

    def __init__(self, export_dir: Path, device: str, config: dict):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if config.get("threads"):
            options.intra_op_num_threads = config["threads"]
        self.device = device
        self.session = ort.InferenceSession(str(Path(export_dir) / MODEL_ONNX), options,
                                            providers=["CPUExecutionProvider"])
        self.tokens: list[int] = []  # the sequence so far; all but the last are in the KV cache
        self.reset()

    def reset(self) -> None:
        self.tokens, self._in_cache = [], 0
        self._past = empty_past(self.session)

    def _step(self, new_ids: list[int], total: int) -> np.ndarray:
        feed = {"input_ids": np.array([new_ids], np.int64), "attention_mask": np.ones((1, total), np.int64),
                **self._past}
        logits, *present = self.session.run(None, feed)
        self._past = dict(zip(self._past, present))
        return logits[0, -1]

    def generate(self, new_ids: list[int], options: GenerationOptions, stop_ids: set[int],
                 on_token: Callable[[int], bool]) -> None:
        """Append `new_ids`, then decode until a stop id, max_new_tokens or on_token -> True."""
        self.tokens += new_ids
        self._in_cache = decode(self._step, self.tokens, self._in_cache, options, stop_ids, on_token)
