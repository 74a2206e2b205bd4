"""Calibration data for NNCF's data-aware methods, offline.

Sources (a preset's `calibration` key, or the user's --calibration FILE): the built-in
calibration text (edge_gemma/texts/data/calibration.txt, never used for evaluation), or
text the 16-bit model generates itself with NNCF's `generate_text_data` (NNCF calls it a
fallback when no real text is at hand; its seeds are bare token ids, so the text starts
anywhere). Text is cut into windows of WINDOW tokens, each starting with <bos>, and fed as
prefills in the model's own input format.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..texts import calibration_samples

WINDOW = 128


def calibration_texts(source: str, checkpoint: Path, ir_folder: Path | None, samples: int) -> list[str]:
    if source == "generated":
        import nncf
        from optimum.intel import OVModelForCausalLM
        from transformers import AutoTokenizer

        model = OVModelForCausalLM.from_pretrained(ir_folder, compile=True)
        return nncf.data.generate_text_data(model, AutoTokenizer.from_pretrained(checkpoint), seq_len=WINDOW,
                                            dataset_size=samples)
    return ["\n\n".join(calibration_samples())]


def windows(texts: list[str], tokenizer, samples: int) -> list[list[int]]:
    """Token windows of at most WINDOW tokens (each with <bos>), at most `samples` of them."""
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        for i in range(0, len(ids), WINDOW - 1):
            piece = ids[i:i + WINDOW - 1]
            if len(piece) >= 16:  # a tail of a few tokens adds nothing
                out.append([tokenizer.bos_token_id] + piece)
    return out[:samples]


def openvino_inputs(ids: list[int], past: int = 0) -> dict:
    """One call of optimum-intel's stateful IR: `ids` after the `past` tokens its state holds
    (a prefill when 0; NNCF resets the state between samples)."""
    total = past + len(ids)
    return {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, total), np.int64),
            "position_ids": np.arange(past, total, dtype=np.int64)[None], "beam_idx": np.zeros(1, np.int32)}


def onnx_inputs(past_shapes: dict[str, tuple[int, int]]):
    """One prefill of our ONNX decoder: ids, mask and an empty KV cache."""
    def make(ids: list[int]) -> dict:
        n = len(ids)
        return {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, n), np.int64),
                **{name: np.zeros((1, heads, 0, dim), np.float32) for name, (heads, dim) in past_shapes.items()}}
    return make


def dataset(token_windows: list[list[int]], to_inputs):
    import nncf

    return nncf.Dataset(token_windows, to_inputs)


def fingerprint(*parts: str | bytes | Path) -> str:
    """A short hash of files (by content; large ones by size and sampled blocks) and strings,
    the key of NNCF's statistics cache: a different model or text never reuses statistics."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            part = part.resolve()  # a checkpoint view links to the files
            size = part.stat().st_size
            digest.update(f"{part.name}:{size}".encode())
            with part.open("rb") as f:
                step = max(size // 64, 1 << 20)
                for offset in range(0, size, step):
                    f.seek(offset)
                    digest.update(f.read(1 << 20))
        else:
            digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()[:16]
