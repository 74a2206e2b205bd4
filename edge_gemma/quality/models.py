"""The two sides of an evaluation: a model that gives logits for every position of a chunk of
token ids, and greedy continuations.

Reference: the PyTorch checkpoint in fp32 (eager attention, as the Gemma 3 model card
advises for exact results) when it fits in memory, else the 16-bit IR with f32 inference
precision. Export: the compressed IR compiled with the runtime's own CPU properties, so its
precision is what users get (bf16 on CPUs with AVX512_BF16/AMX), or the ONNX model through
ONNX Runtime (OnnxModel: every position in one call, like the IR).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..export_folder import MODEL_ONNX, MODEL_XML
from ..memory import available_memory

# Room left for the logits of a chunk, the export and the Python process (bytes).
HEADROOM = 3 * 2**30


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

    def extend(self, ids: list[int], past: int) -> np.ndarray:
        """Logits of `ids` fed after the `past` tokens the state already holds."""
        from ..export.calibration import openvino_inputs

        self.request.infer(openvino_inputs(ids, past))
        return self.request.get_tensor("logits").data[0].copy()

    def logits(self, ids: list[int]) -> np.ndarray:
        self.request.reset_state()
        return self.extend(ids, 0)

    def greedy(self, ids: list[int], n: int) -> list[int]:
        out = [int(self.logits(ids)[-1].argmax())]
        while len(out) < n:
            out.append(int(self.extend([out[-1]], len(ids) + len(out) - 1)[-1].argmax()))
        return out


class OnnxModel:
    """The ONNX export through ONNX Runtime. Its graph returns the last position's logits only,
    so this runs a copy of it without that last-position Slice (every weight and every other node
    the same; export/onnx/rewrite.every_position_logits): one call per chunk gives every
    position's logits, as the IR's does, instead of one call per token."""

    def __init__(self, path: Path, threads: int | None = None):
        import tempfile

        import onnxruntime as ort

        from ..export.onnx.rewrite import every_position_logits
        from ..runtime.engines.ort import empty_past

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # Beside the export, so the copy's weights can be a hard link (rewrite.py says why).
        with tempfile.TemporaryDirectory(prefix=".edge-gemma-eval-", dir=Path(path).parent.parent) as tmp:
            # ONNX Runtime has read the graph and its weights when the session exists.
            self.session = ort.InferenceSession(str(every_position_logits(path, Path(tmp))), options,
                                                providers=["CPUExecutionProvider"])
        self.past = empty_past(self.session)
        self.precision = "f32"

    def logits(self, ids: list[int]) -> np.ndarray:
        feed = {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, len(ids)), np.int64),
                **self.past}
        return self.session.run(["logits"], feed)[0][0]


def reference_kind(checkpoint: Path | None, ir16: Path | None) -> str | None:
    """Which reference an evaluation runs: "pytorch-fp32" when the checkpoint is there and fits in
    memory, else "ir16-f32" (the 16-bit IR with f32 inference precision); None when neither is
    at hand (the caller says how to get one)."""
    if checkpoint is not None and checkpoint.is_dir():
        # Unknown (not Linux): assume it fits, as before.
        if fp32_bytes(checkpoint) + HEADROOM < (available_memory() or 2**62) or ir16 is None:
            return "pytorch-fp32"
    return "ir16-f32" if ir16 is not None else None


def reference_model(checkpoint: Path | None, ir16: Path | None):
    """The model reference_kind names, loaded."""
    kind = reference_kind(checkpoint, ir16)
    if kind == "pytorch-fp32":
        return TorchReference(checkpoint)
    return IRModel(ir16 / MODEL_XML, {"INFERENCE_PRECISION_HINT": "f32"},
                   describe="the 16-bit IR with f32 inference precision (PyTorch fp32 would not fit in memory)")


def export_model(folder: Path, info, threads: int | None):
    """The export as users run it: the runtime's CPU properties (device_config.py)."""
    from ..runtime.device_config import export_cpu_config

    if info.format == "onnx":
        return OnnxModel(folder / MODEL_ONNX, threads)
    return IRModel(folder / MODEL_XML, export_cpu_config(info, threads))
