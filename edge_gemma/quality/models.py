"""The two sides of an evaluation: a model that gives logits for every position of a chunk of
token ids, and greedy continuations.

Reference: the PyTorch checkpoint in fp32 (eager attention, as the Gemma 3 model card
advises for exact results) when it fits in memory, else the 16-bit IR with f32 inference
precision. Export: the compressed IR compiled with the runtime's own CPU properties, so its
precision is what users get (bf16 on CPUs with AVX512_BF16/AMX), or the ONNX model through
ONNX Runtime one token at a time (our ONNX graphs return the last position's logits only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..layout import MODEL_ONNX, MODEL_XML

# Room left for the logits of a chunk, the export and the Python process (bytes).
HEADROOM = 3 * 2**30


def available_memory() -> int:
    """MemAvailable from /proc/meminfo (Linux); elsewhere, assume it fits."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2**62


def fp32_bytes(checkpoint: Path) -> int:
    """What the checkpoint takes in fp32: twice its 16-bit safetensors (GGUF-converted and hub
    Gemma checkpoints are bf16)."""
    return 2 * sum(p.stat().st_size for p in checkpoint.glob("*.safetensors"))


class TorchReference:
    def __init__(self, checkpoint: Path):
        import torch
        from transformers import AutoModelForCausalLM

        self.torch = torch
        from ..hf_logging import quiet_transformers

        self.describe = "PyTorch fp32 (the checkpoint the export was made from)"
        with quiet_transformers():
            self.model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32,
                                                              attn_implementation="eager").eval()

    def logits(self, ids: list[int]) -> np.ndarray:
        with self.torch.no_grad():
            return self.model(self.torch.tensor([ids])).logits[0].numpy()

    def greedy(self, ids: list[int], n: int) -> list[int]:
        with self.torch.no_grad():
            out = self.model.generate(self.torch.tensor([ids]), max_new_tokens=n, do_sample=False,
                                      min_new_tokens=n)
        return out[0, len(ids):].tolist()


class IRModel:
    """A stateful OpenVINO IR (optimum-intel's: input_ids, attention_mask, position_ids,
    beam_idx in; logits for every position out)."""

    def __init__(self, xml: Path, config: dict, describe: str = ""):
        import openvino as ov

        self.describe = describe
        self.compiled = ov.Core().compile_model(xml, "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.precision = self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string()

    def _run(self, ids: list[int], past: int) -> np.ndarray:
        n = len(ids)
        self.request.infer({
            "input_ids": np.array([ids], np.int64),
            "attention_mask": np.ones((1, past + n), np.int64),
            "position_ids": np.arange(past, past + n, dtype=np.int64)[None],
            "beam_idx": np.zeros(1, np.int32),
        })
        return self.request.get_tensor("logits").data[0].copy()

    def logits(self, ids: list[int]) -> np.ndarray:
        self.request.reset_state()
        return self._run(ids, 0)

    def greedy(self, ids: list[int], n: int) -> list[int]:
        out = [int(self.logits(ids)[-1].argmax())]
        while len(out) < n:
            out.append(int(self._run([out[-1]], len(ids) + len(out) - 1)[-1].argmax()))
        return out


class OnnxModel:
    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        from ..runtime.engines.ort import empty_past

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.empty_past = empty_past
        self.precision = "f32"

    def logits(self, ids: list[int]) -> np.ndarray:
        past, rows = self.empty_past(self.session), []
        for n, token in enumerate(ids):
            logits, *present = self.session.run(None, {"input_ids": np.array([[token]], np.int64),
                                                       "attention_mask": np.ones((1, n + 1), np.int64), **past})
            past = dict(zip(past, present))
            rows.append(logits[0, -1])
        return np.stack(rows)


def reference_model(checkpoint: Path | None, ir16: Path | None):
    """PyTorch fp32 when the checkpoint is there and fits in memory, else the 16-bit IR in f32.

    Returns None when neither is at hand (the caller says how to get one).
    """
    if checkpoint is not None and checkpoint.is_dir():
        if fp32_bytes(checkpoint) + HEADROOM < available_memory() or ir16 is None:
            return TorchReference(checkpoint)
    if ir16 is not None:
        return IRModel(ir16 / MODEL_XML, {"INFERENCE_PRECISION_HINT": "f32"},
                       describe="the 16-bit IR with f32 inference precision (PyTorch fp32 would not fit in memory)")
    return None


def export_model(folder: Path, info, threads: int | None):
    """The export as users run it: the runtime's CPU properties (device_config.py)."""
    from ..runtime.device_config import default_dynamic_quant_group, device_config

    if info.format == "onnx":
        return OnnxModel(folder / MODEL_ONNX, threads)
    config = device_config("CPU", threads=threads, dynamic_quant_group=default_dynamic_quant_group(info.compression))
    return IRModel(folder / MODEL_XML, config)
