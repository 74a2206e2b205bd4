"""Each Gemma family's export path, on tiny random-weight models built in the test."""

from __future__ import annotations

import json

import pytest
import torch

from edge_gemma.cli import main
import edge_gemma
from edge_gemma.quality.models import IRModel

FAMILY_RECIPES = {"gemma": "gemma-2b-it", "gemma2": "gemma-2-2b-it", "gemma3_text": "gemma-3-1b-it"}


def _export(checkpoint, recipe, quant, out, *extra):
    # Quality is measured on the real model (tests/quality/); random weights have none to keep.
    return main(["export", "--model", recipe, "--quant", quant, "--source", str(checkpoint),
                 "--output", str(out), "--no-eval", *extra])


@pytest.fixture(scope="module")
def tiny_exports(tiny_checkpoint, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-exports")
    exports = {}
    for family, recipe in FAMILY_RECIPES.items():
        out = root / f"{recipe}-int8"
        assert _export(tiny_checkpoint(family), recipe, "int8", out) == 0
        exports[family] = out
    return exports


@pytest.mark.parametrize("family", list(FAMILY_RECIPES))
def test_tiny_export_logits_match_pytorch(tiny_exports, tiny_checkpoint, family):
    from transformers import AutoModelForCausalLM

    model = edge_gemma.load(tiny_exports[family], device="CPU", engine="optimum")
    # SDPA on both sides: optimum-intel exports Gemma 2 with SDPA, which drops the
    # attention-logit softcap (optimum-intel 2.2.0, chosen upstream for speed).
    reference = AutoModelForCausalLM.from_pretrained(
        tiny_checkpoint(family), dtype=torch.float32, attn_implementation="sdpa")
    # Longer than the tiny sliding window (16), so sliding-window layers are exercised.
    ids = torch.tensor([model.tokenizer.encode("one two three four five six seven eight nine ten " * 3)])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    assert ids.shape[1] > 16
    with torch.no_grad():
        expected = reference(**inputs).logits
    # Every position, from the IR as exported (the optimum engine computes the last one only).
    got = torch.from_numpy(IRModel(tiny_exports[family] / "openvino_model.xml", {}).logits(ids[0].tolist()))[None]
    # int8 per-channel weights: logits of random weights agree to a few hundredths.
    assert torch.allclose(got, expected, atol=0.05, rtol=0.05), (got - expected).abs().max()
    last = model.engine.model(**inputs).logits  # through the engine's last-position slice
    assert last.shape[1] == 1 and torch.allclose(last[0, -1], expected[0, -1], atol=0.05, rtol=0.05)


@pytest.mark.parametrize("family", list(FAMILY_RECIPES))
def test_tiny_export_generates(tiny_exports, family, capsys):
    assert main(["generate", str(tiny_exports[family]), "Hello", "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.strip()
    for engine in ("genai", "optimum"):
        model = edge_gemma.load(tiny_exports[family], device="CPU", engine=engine)
        ids = model.generate_tokens(model.tokenizer.encode("Hello"), max_new_tokens=5)
        assert 1 <= len(ids) <= 5, engine


def test_existing_export_is_kept_unless_forced(tiny_exports, tiny_checkpoint, capsys):
    out = tiny_exports["gemma3_text"]
    before = (out / "manifest.json").read_text()
    assert _export(tiny_checkpoint("gemma3_text"), "gemma-3-1b-it", "int4", out) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "manifest.json").read_text() == before

    assert _export(tiny_checkpoint("gemma3_text"), "gemma-3-1b-it", "int4", out, "--force") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["quant"] == "int4" and "int4_asym" in manifest["compression"]["bitwidth"]
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_interrupted_export_leaves_nothing_behind(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    import edge_gemma.export.openvino as openvino_backend

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(openvino_backend, "compress_ir", interrupted)
    out = tmp_path / "exports" / "tiny-int4"
    assert _export(tiny_checkpoint("gemma3_text"), "gemma-3-1b-it", "int4", out) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list((tmp_path / "exports").iterdir()) == []  # no export, no staging folder, no model.yaml


def test_family_mismatch_is_refused(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "x"
    assert _export(tiny_checkpoint("gemma2"), "gemma-3-1b-it", "int8", out) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "'gemma2' checkpoint" in errors[0] and "gemma3_text" in errors[0]
    assert not out.exists()


# --- ONNX ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILY_RECIPES))
def test_tiny_traced_onnx_matches_pytorch_past_the_sliding_window(tiny_checkpoint, family, tmp_path):
    # fp32 on both sides, so any difference is the graph's: a 40-token prompt (window 16)
    # fed as 30 tokens, then 10 more through the KV cache, as the runtime does.
    import numpy as np
    import onnxruntime as ort
    from transformers import AutoModelForCausalLM

    from edge_gemma.export.onnx.backend import trace_decoder
    from edge_gemma.runtime.engines.ort import empty_past

    trace_decoder(tiny_checkpoint(family), tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = torch.randint(3, 1000, (1, 40), generator=torch.Generator().manual_seed(1))
    past = empty_past(session)
    logits = []
    for chunk in (ids[:, :30], *ids[:, 30:].split(1, dim=1)):
        total = chunk.shape[1] + next(iter(past.values())).shape[2]
        out, *present = session.run(None, {"input_ids": chunk.numpy(), "attention_mask": np.ones((1, total), np.int64),
                                           **past})
        past = dict(zip(past, present))
        logits.append(out[0, -1])
    reference = AutoModelForCausalLM.from_pretrained(tiny_checkpoint(family), dtype=torch.float32,
                                                     attn_implementation="eager")
    with torch.no_grad():
        expected = reference(ids).logits[0, 29:]
    assert np.allclose(np.stack(logits), expected.numpy(), atol=1e-4), np.abs(np.stack(logits) - expected.numpy()).max()


@pytest.mark.parametrize("family", list(FAMILY_RECIPES))
def test_tiny_onnx_export_generates(tiny_checkpoint, family, tmp_path, capsys):
    out = tmp_path / f"{family}-int4-onnx"
    assert _export(tiny_checkpoint(family), FAMILY_RECIPES[family], "int4", out, "--format", "onnx") == 0
    assert "no LocalAI model.yaml" in capsys.readouterr().out and [p.name for p in tmp_path.iterdir()] == [out.name]
    assert main(["generate", str(out), "Hello", "--max-new-tokens", "5", "--engine", "ort"]) == 0
    assert capsys.readouterr().out.strip()
    model = edge_gemma.load(out)
    assert model.engine.name == "ort"
    ids = model.generate_tokens(model.tokenizer.encode("Hello"), max_new_tokens=5, ignore_eos=True)
    assert len(ids) == 5


def test_interrupted_onnx_export_leaves_nothing_behind(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    import edge_gemma.export.onnx.backend as onnx_backend

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_backend, "compress_onnx", interrupted)
    out = tmp_path / "exports" / "tiny-int4-onnx"
    assert _export(tiny_checkpoint("gemma3_text"), "gemma-3-1b-it", "int4", out, "--format", "onnx") == 130
    assert "interrupted" in capsys.readouterr().err
    assert list((tmp_path / "exports").iterdir()) == []


def test_onnx_export_of_a_graph_over_2gb(real_checkpoint, tmp_path):
    # Protobuf caps a file at 2 GB: a random Gemma 3 with a 262144 x 1152 embedding traces to
    # 2.4 GB of fp32 (the table twice: Gather and tied LM head). The trace must go to external
    # files, NNCF must read them from there, and the export must still run.
    from transformers import AutoModelForCausalLM, Gemma3TextConfig

    config = Gemma3TextConfig(vocab_size=262144, hidden_size=1152, intermediate_size=2048, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=1, head_dim=256, sliding_window=512,
                              layer_types=["sliding_attention", "full_attention"], bos_token_id=2,
                              eos_token_id=1, pad_token_id=0)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).save_pretrained(tmp_path / "ckpt")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "ckpt" / name).write_bytes((real_checkpoint / name).read_bytes())
    out = tmp_path / "big-int8-onnx"
    assert _export(tmp_path / "ckpt", "gemma-3-1b-it", "int8", out, "--format", "onnx") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["compression"]["onnx_rewrites"]["share_tied_lm_head"] == 1
    assert (out / "model.onnx.data").stat().st_size > 300e6 and (out / "model.onnx").stat().st_size < 1e6
    model = edge_gemma.load(out)
    assert len(model.generate_tokens(model.tokenizer.encode("Hello"), max_new_tokens=3, ignore_eos=True)) == 3
