"""Engine `ort`: ONNX Runtime (CPU) on an ONNX export (export/onnx/).

The graph takes the KV cache as inputs and returns it grown by the new tokens
(export/onnx/decoder.py), so this engine holds it as numpy arrays between calls; that is
also how a chat turn reuses the previous one's cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...export_folder import MODEL_ONNX
from .stepped import SteppedEngine


def empty_past(session) -> dict[str, np.ndarray]:
    """An empty KV cache for the session's inputs: [batch 1, kv_heads, 0 tokens, head_dim]."""
    return {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
            for i in session.get_inputs() if i.name.startswith("past_key_values.")}


class OrtEngine(SteppedEngine):
    name = "ort"
    format = "onnx"
    devices = ("CPU",)

    def __init__(self, export_dir: Path, device: str, config: dict):
        import onnxruntime as ort

        super().__init__(export_dir)
        options = ort.SessionOptions()
        if config.get("threads"):
            options.intra_op_num_threads = config["threads"]
        self.device = device
        self.session = ort.InferenceSession(str(Path(export_dir) / MODEL_ONNX), options,
                                            providers=["CPUExecutionProvider"])
        self._past = empty_past(self.session)

    def _clear(self) -> None:
        self._past = empty_past(self.session)

    def _step(self, new_ids: list[int], total: int) -> np.ndarray:
        feed = {"input_ids": np.array([new_ids], np.int64), "attention_mask": np.ones((1, total), np.int64),
                **self._past}
        logits, *present = self.session.run(None, feed)
        self._past = dict(zip(self._past, present))
        return logits[0, -1]
