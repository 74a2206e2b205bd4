"""LocalAI model.yaml generation and its checks against LocalAI's rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge_gemma.cli import main
from edge_gemma.errors import LocalAIConfigError
from edge_gemma.recipes import load_recipe
from edge_gemma.serve.localai import model_config, problems, write_model_yaml

COMMITTED = Path(__file__).resolve().parents[1] / "model_yaml"


def test_committed_model_yaml_matches_the_recipes(tmp_path, capsys):
    assert main(["yaml", "--yaml-dir", str(tmp_path)]) == 0
    generated = {p.name: p.read_text() for p in tmp_path.glob("*.yaml")}
    committed = {p.name: p.read_text() for p in COMMITTED.glob("*.yaml")}
    assert generated == committed, "model_yaml/ is stale: run `make yaml` and commit"
    assert "gemma-2-9b-it-int4.yaml" in committed and "gemma-3-270m-int4-npu.yaml" in committed


def test_definition_for_openvino_transformers_backend():
    config = yaml.safe_load((COMMITTED / "gemma-2-9b-it-int4.yaml").read_text())
    assert config == {
        "name": "gemma-2-9b-it-int4",
        "backend": "transformers",
        "type": "OVModelForCausalLM",
        "parameters": {"model": "gemma-2-9b-it-int4"},
        "context_size": 8192,
        "template": {"use_tokenizer_template": True},
        "stopwords": ["<end_of_turn>", "<eos>"],
        "known_usecases": ["chat"],
    }


def test_device_sets_main_gpu(tmp_path):
    recipe = load_recipe("gemma-3-270m")
    path = write_model_yaml(recipe, "gemma-3-270m-int4-npu", tmp_path / "m.yaml", device="NPU")
    assert yaml.safe_load(path.read_text())["main_gpu"] == "NPU"


@pytest.mark.parametrize("change, message", [
    ({"backend": "/usr/bin/evil"}, "backend"),
    ({"backend": "trans formers"}, "backend"),
    ({"parameters": {"model": "../elsewhere"}}, "parameters.model"),
    ({"parameters": {"model": "/abs/path"}}, "parameters.model"),
    ({"stopwords": ["<eos>"]}, "missing <end_of_turn>"),
    ({"context_size": 0}, "context_size"),
    ({"main_gpu": "TPU"}, "main_gpu"),
    ({"feature_flags": {"usage": True}}, "feature_flags: not a key"),
    ({"type": "AutoModelForCausalLM"}, "type"),
])
def test_rule_violations_are_found(change, message):
    config = dict(model_config(load_recipe("gemma-3-270m"), "gemma-3-270m-int4"), **change)
    found = problems(config)
    assert any(message in p for p in found), found


def test_valid_config_has_no_problems():
    assert problems(model_config(load_recipe("gemma-7b-it"), "gemma-7b-it-int4", "GPU.1")) == []


def test_generator_refuses_to_write_an_invalid_file(tmp_path):
    recipe = load_recipe("gemma-3-270m")
    target = tmp_path / "bad.yaml"
    with pytest.raises(LocalAIConfigError, match="parameters.model"):
        write_model_yaml(recipe, "../escape", target)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_edge_gemma_flavour_names_our_backend_and_no_type(tmp_path, capsys):
    assert main(["yaml", "--model", "gemma-3-270m", "--quant", "int4", "--backend", "edge-gemma",
                 "--localai-device", "gpu", "--yaml-dir", str(tmp_path)]) == 0
    path = tmp_path / "gemma-3-270m-int4.yaml"
    text = path.read_text()
    assert "--external-grpc-backends" in text  # the header says how LocalAI finds the backend
    assert yaml.safe_load(text) == {
        "name": "gemma-3-270m-int4",
        "backend": "edge-gemma",
        "parameters": {"model": "gemma-3-270m-int4"},
        "context_size": 32768,
        "template": {"use_tokenizer_template": True},
        "stopwords": ["<end_of_turn>", "<eos>"],
        "known_usecases": ["completion", "chat"],
        "main_gpu": "GPU",
    }
    assert problems(yaml.safe_load(text)) == []


@pytest.mark.parametrize("backend, change, message", [
    ("edge-gemma", {"type": "OVModelForCausalLM"}, "type: must be left out for the edge-gemma backend"),
    ("transformers", {"type": None}, "type: must be OVModelForCausalLM for the transformers backend"),
    ("edge-gemma", {"backend": "edge_gemma"}, "not one we write for"),
])
def test_flavour_rules(backend, change, message):
    config = dict(model_config(load_recipe("gemma-3-270m"), "gemma-3-270m-int4", backend=backend), **change)
    assert any(message in p for p in problems({k: v for k, v in config.items() if v is not None}))


def test_unknown_backend_flavour_is_refused_by_the_cli(capsys):
    with pytest.raises(SystemExit):
        main(["yaml", "--backend", "vllm"])
    assert "invalid choice: 'vllm'" in capsys.readouterr().err
