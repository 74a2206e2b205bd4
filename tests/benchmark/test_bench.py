"""`edge-gemma bench` on the real 270M with short settings (the figures come from `make bench`)."""

from __future__ import annotations

import importlib.util
import json

from edge_gemma.cli import main
from edge_gemma.export.weights import bytes_per_token, read_weights
from edge_gemma.texts.prompts import prompts


def test_weight_bytes_per_token(real_exports):
    # 270M int4: every matmul weight, the tied 262144 x 640 LM head in int8 included: about
    # the whole .bin (the only other constants are norms, a few hundred KB).
    export = real_exports["int4"]
    read = bytes_per_token(read_weights(export / "openvino_model.xml"))
    size = (export / "openvino_model.bin").stat().st_size
    assert 0.99 * size < read <= size
    assert bytes_per_token(read_weights(real_exports["int8"] / "openvino_model.xml")) > 1.1 * read


def test_prompts_have_exact_lengths(loaded):
    tokenizer = loaded("int4", "genai").tokenizer
    built = prompts(tokenizer, 3)
    for length, variants in built.items():
        assert [len(v) for v in variants] == [int(length)] * 3
        assert all(v[0] == tokenizer.bos_token_id for v in variants)
        assert len({tuple(v[:4]) for v in variants}) == 3  # they differ right after <bos>


def test_bench_json_has_an_entry_per_engine_and_baseline(real_exports, capsys):
    # genai alone: optimum runs through the same EngineSubject (measure.py), ort has its own
    # test below, and each subject costs two fresh processes of CI's time.
    argv = ["bench", str(real_exports["int4"]), "--engine", "genai", "--json", "--runs", "1", "--new-tokens", "4",
            "--threads", "2"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    expected = {"genai", "pytorch"}
    if importlib.util.find_spec("llama_cpp"):
        expected.add("llama.cpp")
    else:
        assert "llama-cpp-python is not installed" in report["skipped"]["llama.cpp"]
    assert set(report["engines"]) == expected
    for name, entry in report["engines"].items():
        assert entry["engine"] == name
        for key in ("decode_tokens_per_s", "ttft_ms", "load_s", "load_cold_s", "peak_rss_mb"):
            assert entry[key] > 0, (name, key)
        assert entry["ttft_ms_512"] > 0 and entry["model_mb"] > 100
    assert report["engines"]["genai"]["achieved_gb_per_s"] > 0


def test_onnx_weight_bytes_count_the_shared_lm_head_once(onnx_exports):
    # The tied head is stored once (int8 embedding table, read transposed): the bytes a token
    # reads are about the whole data file, as for the IR; int4 reads less than int8.
    for quant in ("int8", "int4"):
        export = onnx_exports[quant]
        read = bytes_per_token(read_weights(export / "model.onnx"))
        size = (export / "model.onnx.data").stat().st_size
        assert 0.95 * size < read <= size, (quant, read, size)
    assert bytes_per_token(read_weights(onnx_exports["int8"] / "model.onnx")) > 1.1 * read


def test_bench_runs_the_ort_engine_on_an_onnx_export(onnx_exports, capsys):
    argv = ["bench", str(onnx_exports["int4"]), "--json", "--runs", "1", "--new-tokens", "4", "--threads", "2",
            "--no-baselines"]
    assert main(argv) == 0
    entry = json.loads(capsys.readouterr().out)["engines"]["ort"]
    assert entry["decode_tokens_per_s"] > 0 and entry["ttft_ms_512"] > 0 and entry["achieved_gb_per_s"] > 0
    # An OpenVINO engine on an ONNX export is refused before any work.
    assert main(["bench", str(onnx_exports["int4"]), "--engine", "genai"]) == 1
    assert "use --engine ort" in capsys.readouterr().err
