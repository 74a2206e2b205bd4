"""Each Gemma family's export path, on tiny random-weight models built in the test
(tests/tiny_models.py: the real configs' structure, a sliding window of 12)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_models import RECIPES, SLIDING_WINDOW

from edge_gemma.cli import main
import edge_gemma
from edge_gemma.quality.models import IRModel

# The families whose ONNX path exists (edge_gemma/families.py refuses the others).
FAMILY_RECIPES = {"gemma": "gemma-2b-it", "gemma2": "gemma-2-2b-it", "gemma3_text": "gemma-3-1b-it"}
NEW_FAMILIES = ["gemma3n_text", "gemma4_text", "gemma4_moe"]
# fp16 IR against fp32 PyTorch at every position, f32 inference: measured max abs logit error
# on the AMD EPYC (2026-12-03, random ids, a window of 16 then; gemma and gemma2 not measured
# alone): gemma3_text 4.5e-4, gemma3n_text 8.7e-5, gemma4_text 2.0e-4, gemma4_moe 4.7e-4 (f32
# KV cache).
MAX_ABS = 0.01
# Longer than the tiny sliding window (12), so sliding-window layers are exercised.
PROMPT = "one two three four five six seven eight nine ten " * 3


@pytest.fixture(scope="module", autouse=True)
def tables_by_rows():
    """The tiny models' tied embeddings (67 MB) and the E-models' per-layer tables (33 MB) go
    through export/tables.py as the real ones (0.3-5 GB) do."""
    import edge_gemma.export.tables as tables

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tables, "MIN_BYTES", 16 << 20)
        yield


@pytest.fixture(scope="module", autouse=True)
def own_cache(tmp_path_factory):
    """The module's exports share a cache of their own (the tiny models' conversions and their
    one tokenizer's IRs): a dozen tiny conversions in the session's cache would push the real
    270M's conversion out of it (conversions.KEEP), and a later real export would convert again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGE_GEMMA_CACHE", str(tmp_path_factory.mktemp("tiny-cache")))
        yield


def _export(checkpoint, recipe, quant, out, *extra):
    # Quality is measured on the real model (tests/quality/); random weights have none to keep.
    return main(["export", "--model", recipe, "--quant", quant, "--source", str(checkpoint),
                 "--output", str(out), "--no-eval", *extra])


@pytest.fixture(scope="module")
def tiny_export(tiny_checkpoint, tmp_path_factory):
    """Export (once) a family's tiny checkpoint at a quant level."""
    root, made = tmp_path_factory.mktemp("tiny-exports"), {}

    def get(family: str, quant: str):
        if (family, quant) not in made:
            out = root / f"{family}-{quant}"
            assert _export(tiny_checkpoint(family), RECIPES[family], quant, out) == 0
            made[family, quant] = out
        return made[family, quant]

    return get


@pytest.fixture(scope="module")
def tiny_exports(tiny_export):
    return {family: tiny_export(family, "int8") for family in FAMILY_RECIPES}


def _reference(folder, ids):
    from transformers import AutoModelForCausalLM

    # SDPA on both sides: optimum-intel exports Gemma 2 with SDPA, which drops the
    # attention-logit softcap (optimum-intel 2.2.0, chosen upstream for speed).
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa")
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits


def _two_calls(export, ids) -> np.ndarray:
    """The IR's logits for every position: the first 20 tokens, then the rest after them in the KV cache."""
    # f32 compute and an f32 KV cache: OpenVINO's CPU default stores the cache in u8, which made
    # the continuation of the tiny MoE differ by 0.39 (its router flips an expert), by 0.013
    # without the MoE block; with f32 the continuation is as exact as one call (5e-4).
    ir = IRModel(export / "openvino_model.xml", {"INFERENCE_PRECISION_HINT": "f32", "KV_CACHE_PRECISION": "f32"})
    ids = ids[0].tolist()
    return np.concatenate([ir.logits(ids[:20]), ir.extend(ids[20:], 20)])


@pytest.mark.parametrize("family", list(RECIPES))
def test_ir_matches_pytorch_across_a_kv_cache_continuation(tiny_export, tiny_checkpoint, family):
    # Per-layer inputs, AltUp, LAuReL, KV sharing, sliding/full layers with their own head
    # sizes and partial RoPE, the MoE block and softcapping are all in these graphs.
    export = tiny_export(family, "fp16")
    ids = torch.tensor([edge_gemma.load(export, device="CPU", engine="optimum").tokenizer.encode(PROMPT)])
    assert ids.shape[1] > 20 > SLIDING_WINDOW  # both calls cross the sliding window
    expected = _reference(tiny_checkpoint(family), ids)[0].numpy()
    got = _two_calls(export, ids)
    assert np.abs(got - expected).max() < MAX_ABS, np.abs(got - expected).max()
    assert (got.argmax(-1) == expected.argmax(-1)).all()


@pytest.mark.parametrize("family", list(RECIPES))
def test_embedding_tables_stay_in_the_checkpoints_bf16(tiny_export, family):
    # Traced as OpenVINO's 16-bit embedding extension (optimum_gemma.py, change 6), not cast to
    # f32 in memory: the cast held 3.8 GB at 9B and 9.4 GB for Gemma 4 E2B's per-layer table.
    import openvino as ov

    from edge_gemma.export.tables import big_tables

    model = ov.Core().read_model(tiny_export(family, "fp16") / "openvino_model.xml")
    tables = {c.get_friendly_name(): c.get_element_type().get_type_name() for c in big_tables(model, 1 << 20)}
    expected = ["self.model.embed_tokens._openvino_orig_weight"] + (
        ["self.model.embed_tokens_per_layer._openvino_orig_weight"] if family in ("gemma3n_text", "gemma4_text") else [])
    assert sorted(tables) == expected and set(tables.values()) == {"bf16"}, tables


@pytest.mark.parametrize("family", ["gemma3", "gemma4"])
def test_multimodal_checkpoint_exports_its_own_text_decoder(tiny_multimodal_checkpoint, tmp_path, family, capsys):
    # A text export of a multimodal checkpoint must hold its language model's weights, not
    # random ones (transformers 5 loads such a checkpoint into the text class with every text
    # weight missing): compared with the multimodal model's own text logits.
    from transformers import AutoModelForImageTextToText

    folder = tiny_multimodal_checkpoint(family)
    recipe = {"gemma3": "gemma-3-4b-it", "gemma4": "gemma-4-e2b-it"}[family]
    out = tmp_path / "text-fp16"
    assert _export(folder, recipe, "fp16", out, "--cache-dir", str(tmp_path / "cache")) == 0
    assert "text decoder out of the multimodal" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["checkpoint"] != str(folder)
    full = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa")
    ids = torch.tensor([edge_gemma.load(out, device="CPU", engine="optimum").tokenizer.encode(PROMPT)])
    with torch.no_grad():
        expected = full(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].numpy()
    got = _two_calls(out, ids)
    assert np.abs(got - expected).max() < MAX_ABS, np.abs(got - expected).max()


# int8 against PyTorch, old families only. On the new ones random weights say nothing about
# int8: Gemma 4 attends with RMS-normed queries and keys and scaling 1.0, so random-weight
# attention is nearly one-hot and int8 noise moves it (measured, f32, AMD EPYC: max abs 0.35
# for gemma4_text, 1.4 for gemma4_moe, 0.12 for gemma3n_text with its activation sparsity;
# the fp16 IRs match to 5e-4). Their graphs are checked at fp16 above, their int8 and int4
# exports by generating below; their quantization error needs real weights.
@pytest.mark.parametrize("family", list(FAMILY_RECIPES))
def test_tiny_export_logits_match_pytorch(tiny_export, tiny_checkpoint, family):
    export = tiny_export(family, "int8")
    model = edge_gemma.load(export, device="CPU", engine="optimum")
    ids = torch.tensor([model.tokenizer.encode(PROMPT)])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    assert ids.shape[1] > SLIDING_WINDOW
    expected = _reference(tiny_checkpoint(family), ids)
    # Every position, from the IR as exported (the optimum engine computes the last one only).
    got = torch.from_numpy(IRModel(export / "openvino_model.xml", {}).logits(ids[0].tolist()))[None]
    # int8 per-channel weights: logits of random weights agree to a few hundredths.
    assert torch.allclose(got, expected, atol=0.05, rtol=0.05), (got - expected).abs().max()
    last = model.engine.model(**inputs).logits  # through the engine's last-position slice
    assert last.shape[1] == 1 and torch.allclose(last[0, -1], expected[0, -1], atol=0.05, rtol=0.05)


@pytest.mark.parametrize("family, quant", [(f, "int8") for f in RECIPES] + [(f, "int4") for f in NEW_FAMILIES])
def test_tiny_export_generates(tiny_export, family, quant, capsys):
    export = tiny_export(family, quant)
    compressed = json.loads((export / "manifest.json").read_text())["compression"].get("tables_compressed_by_rows")
    # The tied embedding / LM head of every family (67 MB), the E-models' per-layer tables too.
    # bf16 in the IR, as in the checkpoint (export/optimum_gemma.py, change 6).
    expected = ["self.model.embed_tokens._openvino_orig_weight"] + (
        ["self.model.embed_tokens_per_layer._openvino_orig_weight"] if family in ("gemma3n_text", "gemma4_text") else [])
    assert sorted(compressed) == expected, compressed
    assert main(["generate", str(export), "Hello", "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.strip()
    greedy = {}
    for engine in ("genai", "optimum"):
        model = edge_gemma.load(export, device="CPU", engine=engine)
        greedy[engine] = model.generate_tokens(model.tokenizer.encode(PROMPT), max_new_tokens=8, ignore_eos=True)
        assert len(greedy[engine]) == 8, engine
    if family in NEW_FAMILIES:  # both engines run the new families, and agree
        assert greedy["genai"] == greedy["optimum"]


@pytest.mark.parametrize("quant", ["int8", "int4"])
def test_moe_router_stays_16_bit_and_the_experts_take_the_preset(tiny_export, quant):
    # The recipe's `uncompressed: .*router.*` (recipes/gemma-4-26b-a4b-it.yaml says why).
    from edge_gemma.export.weights import read_weights

    weights = read_weights(tiny_export("gemma4_moe", quant) / "openvino_model.xml")
    routers = [w for w in weights if "router" in w.name]
    assert routers and all(w.precision == "float" for w in routers), routers
    assert any(w.precision.startswith(quant) for w in weights if "layers" in w.name)
    # Each layer's fused gate/up expert weight is compressed apart (export/experts.py), down as NNCF does.
    experts = sorted(w.name.rsplit(".experts.", 1)[1] for w in weights if ".experts." in w.name)
    assert experts == sorted(
        ["down_proj", "gate_up_proj/gate", "gate_up_proj/up"] * 4), experts
    assert all(w.precision.startswith(quant) for w in weights if ".experts." in w.name)
    compression = json.loads((tiny_export("gemma4_moe", quant) / "manifest.json").read_text())["compression"]
    assert len(compression["experts_compressed_apart"]) == 4


def test_new_families_have_no_onnx_path_yet(capsys):
    for recipe in ("gemma-3n-e2b-it", "gemma-4-e2b-it"):
        assert main(["export", "--model", recipe, "--quant", "int8", "--format", "onnx", "--source", "/nonexistent"]) == 1
        error = capsys.readouterr().err.strip()
        assert error.count("\n") == 0 and "no ONNX export of Gemma" in error and "FORMAT=openvino" in error


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
    # fp32 on both sides, so any difference is the graph's: a 40-token prompt (window 12)
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
