"""ONNX export of the real Gemma 3 270M: files, accuracy against PyTorch, sliding window."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import edge_gemma
from edge_gemma.cli import main
from edge_gemma.texts.prompts import ACCURACY_PROMPTS, reference_text

PROMPTS = ACCURACY_PROMPTS
NEW_TOKENS = 16
# Where int8 may legitimately part from PyTorch: a position where PyTorch's two best logits
# are closer than this. int8 per-channel weights move the 270M's logits by about 0.1 (seen on
# these prompts: the int8 export parted from PyTorch only at gaps of 0.02, 0.07 and 0.13);
# above 0.25 a different token would mean a real error (positions, mask, KV cache).
NEAR_TIE = 0.25


@pytest.fixture(scope="module")
def reference(real_checkpoint):
    """PyTorch fp32 on the checkpoint the exports were made from; eager attention as exported."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(real_checkpoint, dtype=torch.float32,
                                                attn_implementation="eager").eval()


def _greedy_with_gaps(model, ids: list[int], count: int) -> tuple[list[int], list[float], list[torch.Tensor]]:
    """PyTorch's greedy tokens after `ids`, its top-2 logit gap at each of them, and how far
    below its pick every token scores there (0 for the pick)."""
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=count, do_sample=False,
                             output_logits=True, return_dict_in_generate=True)
    tokens = out.sequences[0, len(ids):].tolist()
    gaps = [float(top[0] - top[1]) for top in (lg[0].topk(2).values for lg in out.logits)]
    below = [lg[0].max() - lg[0] for lg in out.logits]
    return tokens, gaps, below


def _leading_agreement(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _assert_agrees_until_a_near_tie(got: list[int], expected: list[int], gaps: list[float],
                                    below: list[torch.Tensor], label: str) -> int:
    agreed = _leading_agreement(got, expected)
    first_tie = next((i for i, gap in enumerate(gaps) if gap < NEAR_TIE), len(gaps))
    assert agreed >= first_tie, (f"{label}: parted from PyTorch at token {agreed} where its top-2 gap is "
                                 f"{gaps[agreed]:.2f} (first near-tie at {first_tie})")
    if agreed < len(got):  # where it parts, it picks a token PyTorch also scores within NEAR_TIE of its own
        assert float(below[agreed][got[agreed]]) < NEAR_TIE, (label, agreed, float(below[agreed][got[agreed]]))
    return agreed


def test_export_writes_model_tokenizer_and_manifest(onnx_exports):
    for quant, folder in onnx_exports.items():
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["format"] == "onnx" and manifest["quant"] == quant
        files = {f["path"]: f for f in manifest["files"]}
        for name in ("model.onnx", "model.onnx.data", "tokenizer.json", "config.json", "chat_template.jinja"):
            assert name in files and len(files[name]["sha256"]) == 64, (quant, name)
        assert manifest["onnx"]["opset"] == 21 and manifest["onnx"]["sliding_window"] == 512
        assert manifest["tools"]["onnxruntime"] and manifest["tools"]["nncf"]
        rewrites = manifest["compression"]["onnx_rewrites"]
        assert rewrites["gather_before_dequantize"] == 1 and rewrites["share_tied_lm_head"] == 1
        bits = manifest["compression"]["bitwidth"]
        assert "float" not in bits, bits  # every MatMul and the embedding are compressed
    assert set(json.loads((onnx_exports["int8"] / "manifest.json").read_text())["compression"]["bitwidth"]) == {
        "int8_asym"}
    int4_bits = json.loads((onnx_exports["int4"] / "manifest.json").read_text())["compression"]["bitwidth"]
    assert int4_bits["int4_asym"]["layers"] == 126  # every layer but the tied embedding / LM head


def test_export_message_says_why_there_is_no_model_yaml(onnx_exports, tmp_path, cache_dir, capsys):
    out = tmp_path / "again"
    argv = ["export", "--format", "onnx", "--quant", "int8", "--output", str(out), "--cache-dir", str(cache_dir)]
    # An existing folder is refused before any work...
    out.mkdir()
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    # ...and fp16 is not an ONNX level.
    assert main(["export", "--format", "onnx", "--quant", "fp16", "--output", str(tmp_path / "f")]) == 1
    assert "pick QUANT=int8 or int4" in capsys.readouterr().err
    assert not (tmp_path / "f").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["again"]


def test_int8_greedy_tokens_agree_with_pytorch(onnx_exports, reference):
    model = edge_gemma.load(onnx_exports["int8"], threads=2)
    full = 0
    for prompt in PROMPTS:
        ids = model.tokenizer.encode(prompt)
        expected, gaps, below = _greedy_with_gaps(reference, ids, NEW_TOKENS)
        got = model.generate_tokens(ids, max_new_tokens=NEW_TOKENS, ignore_eos=True)
        full += _assert_agrees_until_a_near_tie(got, expected, gaps, below, prompt) == NEW_TOKENS
    # Seen: 5 of 8 agree on every token on the Intel Xeon (2026-12-01), 3 of 8 on the AMD EPYC
    # (2026-12-02, ONNX Runtime's int8 kernels differ by CPU); every other prompt parted at a
    # near-tie onto a token PyTorch scores within NEAR_TIE of its own pick (checked above).
    assert full >= 3


def test_int4_is_coherent_and_smaller_than_int8(onnx_exports, reference):
    sizes = {q: json.loads((f / "manifest.json").read_text())["total_bytes"] for q, f in onnx_exports.items()}
    assert sizes["int4"] < 0.9 * sizes["int8"], sizes
    model = edge_gemma.load(onnx_exports["int4"], threads=2)
    for prompt in PROMPTS[:4]:
        ids = model.tokenizer.encode(prompt)
        got = model.generate_tokens(ids, max_new_tokens=24, ignore_eos=True)
        # Coherent = text the full-precision model finds likely: its perplexity on the int4
        # continuation. Greedy text of a working model scores ~1.5-4; random tokens ~1e5.
        with torch.no_grad():
            logits = reference(torch.tensor([ids + got])).logits[0, len(ids) - 1:-1]
        perplexity = float(torch.exp(torch.nn.functional.cross_entropy(logits, torch.tensor(got))))
        assert perplexity < 8, (prompt, model.tokenizer.decode(got), perplexity)


def _long_prompt(tokenizer) -> list[int]:
    """700 tokens of English prose: past the 270M's 512-token sliding window."""
    ids = tokenizer.encode(reference_text())[:700]
    assert len(ids) == 700
    return ids


def _fp32_trace(checkpoint, cache_dir, folder) -> None:
    """The fp32 trace the ONNX exports were made from, by the export's own conversion step:
    copied from the conversion cache into `folder` (traced again only on a miss: 35 s and 1.7 GB)."""
    from edge_gemma.export.checkpoint import checkpoint_view
    from edge_gemma.export.driver import BACKENDS, StepLog, convert
    from edge_gemma.recipes import load_recipe

    view = checkpoint_view(checkpoint, load_recipe("gemma-3-270m"), folder / "view")
    convert(BACKENDS["onnx"], view, folder, None, cache_dir, StepLog(1))


def test_prompt_longer_than_the_sliding_window_matches_pytorch(onnx_exports, real_checkpoint, reference,
                                                              cache_dir, tmp_path):
    from edge_gemma.runtime.engines.ort import OrtEngine
    from edge_gemma.runtime.options import GenerationOptions

    model = edge_gemma.load(onnx_exports["int8"], threads=2)
    ids = _long_prompt(model.tokenizer)
    expected, gaps, below = _greedy_with_gaps(reference, ids, NEW_TOKENS)
    # fp32, before NNCF: the traced graph itself must give PyTorch's tokens exactly, so a wrong
    # sliding-window mask (or position, or cache) cannot hide behind quantization noise.
    _fp32_trace(real_checkpoint, cache_dir, tmp_path)
    engine = OrtEngine(tmp_path, "CPU", {})  # the runtime's engine, on the unquantized trace
    engine.generate(ids, GenerationOptions(max_new_tokens=NEW_TOKENS, ignore_eos=True), set(), lambda token: False)
    got = engine.tokens[len(ids):]
    assert got == expected
    # The int8 export, through the runtime: agrees until PyTorch's first near-tie.
    got = model.generate_tokens(ids, max_new_tokens=NEW_TOKENS, ignore_eos=True)
    _assert_agrees_until_a_near_tie(got, expected, gaps, below, "700-token prompt")


def test_the_onnx_file_also_runs_in_openvino(onnx_exports):
    import onnxruntime as ort
    import openvino as ov

    from edge_gemma.runtime.engines.ort import empty_past

    path = onnx_exports["int4"] / "model.onnx"
    compiled = ov.Core().compile_model(ov.Core().read_model(path), "CPU")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"input_ids": np.array([[2, 651, 6037, 529, 7001, 563]], np.int64),
            "attention_mask": np.ones((1, 6), np.int64)}
    feed |= empty_past(session)
    expected = session.run(["logits"], feed)[0]
    got = compiled(feed)["logits"]
    assert got.shape == expected.shape
    # The same greedy pick, unless ONNX Runtime itself has a near-tie there (the int4 export
    # made on the Intel Xeon, 2026-12-01: ORT's top two 0.014 apart, OpenVINO picked the second).
    first, second = np.argsort(expected.ravel())[::-1][:2]
    gap = expected.ravel()[first] - expected.ravel()[second]
    assert got.argmax() == first or (gap < NEAR_TIE and got.argmax() == second), (got.argmax(), first, gap)
    # Both runtimes quantize activations for their int4 kernels, each its own way (ORT's
    # MatMulNBits at accuracy level 4, OpenVINO's dynamic quantization): seen 0.97 at most
    # over the 262144 logits, about 1 % of their range.
    assert np.abs(got - expected).max() < 2.0
