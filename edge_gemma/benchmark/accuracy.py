"""Accuracy of exports against the PyTorch reference (fp32, eager attention) they came from.

For each export: greedy agreement (how many of the first 32 greedy tokens equal PyTorch's,
per prompt, then the mean) on 8 prompts, and perplexity on 512 tokens of English prose
(Python's "assignment" reference text, shipped with Python, so it runs offline), against
the reference's own perplexity. OpenVINO exports run through optimum-intel (one forward
pass over the text, f32 inference precision); ONNX exports through ONNX Runtime one token
at a time, since they return the last position's logits only. Prints a Markdown table.

    python -m edge_gemma.benchmark.accuracy exports/gemma-3-270m-int8 exports/gemma-3-270m-int8-onnx ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ..export.manifest import read_manifest
from ..layout import MODEL_ONNX
from ..runtime import load
from .prompts import ACCURACY_PROMPTS, reference_text

NEW_TOKENS = 32


def eval_ids(tokenizer) -> list[int]:
    return tokenizer(reference_text())["input_ids"][:512]


def perplexity(logits: np.ndarray, ids: list[int]) -> float:
    """logits[i] predicts ids[i + 1]."""
    logits = torch.from_numpy(np.asarray(logits[: len(ids) - 1], np.float32))
    return float(torch.exp(torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]))))


def openvino_logits(folder: Path, ids: list[int]) -> np.ndarray:
    from optimum.intel import OVModelForCausalLM

    model = OVModelForCausalLM.from_pretrained(folder, ov_config={"INFERENCE_PRECISION_HINT": "f32"})
    return model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.int64)).logits[0].numpy()


def onnx_logits(folder: Path, ids: list[int]) -> np.ndarray:
    import onnxruntime as ort

    from ..runtime.engines.ort import empty_past

    session = ort.InferenceSession(str(folder / MODEL_ONNX), providers=["CPUExecutionProvider"])
    past = empty_past(session)
    rows = []
    for n, token in enumerate(ids):
        logits, *present = session.run(None, {"input_ids": np.array([[token]], np.int64),
                                              "attention_mask": np.ones((1, n + 1), np.int64), **past})
        past = dict(zip(past, present))
        rows.append(logits[0, -1])
    return np.stack(rows)


def main() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", type=Path)
    args = parser.parse_args()
    manifest = read_manifest(args.exports[0])
    checkpoint = manifest["source"]["checkpoint"]
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    reference = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32, attn_implementation="eager")
    text = eval_ids(tokenizer)
    with torch.no_grad():
        ref_ppl = perplexity(reference(torch.tensor([text])).logits[0].numpy(), text)
        expected = [reference.generate(torch.tensor([tokenizer(p)["input_ids"]]), max_new_tokens=NEW_TOKENS,
                                       do_sample=False)[0, len(tokenizer(p)["input_ids"]):].tolist()
                    for p in ACCURACY_PROMPTS]
    rows = [f"| PyTorch fp32 (reference) | {ref_ppl:.2f} | {NEW_TOKENS} | - |"]
    for folder in args.exports:
        info = read_manifest(folder)
        model = load(folder, device="CPU", threads=2)
        agreed = []
        for prompt, want in zip(ACCURACY_PROMPTS, expected):
            got = model.generate_tokens(model.tokenizer(prompt)["input_ids"], max_new_tokens=NEW_TOKENS,
                                        ignore_eos=True)
            agreed.append(next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), NEW_TOKENS))
        del model
        logits = (onnx_logits if info["format"] == "onnx" else openvino_logits)(folder, text)
        rows.append(f"| {folder.name} | {perplexity(logits, text):.2f} | {np.mean(agreed):.1f} | "
                    f"{', '.join(map(str, agreed))} |")
    print("| export | perplexity | greedy agreement (mean of 32) | per prompt |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
