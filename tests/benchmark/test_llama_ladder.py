"""llama.cpp's ladder of the real 270M GGUF (benchmark/llama_ladder.py), measured by
quality/llama_cpp.py exactly as our exports are. Needs llama-cpp-python (`make
install-llama`); CI does not build it, so there these tests are skipped, saying why."""

from __future__ import annotations

import pytest

from edge_gemma.benchmark.llama_ladder import LadderError, check_rungs, ladder
from edge_gemma.sources.gguf_header import matrix_types

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make install-llama)")


def test_rungs_are_checked_before_any_work():
    assert check_rungs(["q8_0", "IQ4_NL"]) == ["Q8_0", "IQ4_NL"]
    with pytest.raises(LadderError, match="llama.cpp has no quantization type 'Q3'; it has .*Q4_0"):
        check_rungs(["Q3"])


@pytest.fixture(scope="module")
def rungs(cache_dir):
    from edge_gemma.recipes import load_recipe
    from edge_gemma.sources import gguf_file, parse_source

    source = gguf_file(parse_source(load_recipe("gemma-3-270m").source), cache_dir, log=lambda m: None)
    return ladder(source, ["Q8_0", "Q4_0"], cache_dir, threads=2, log=lambda m: None), source


@pytest.mark.slow
def test_ladder_files_are_llama_cpps_and_cached(rungs, cache_dir):
    files, source = rungs
    for rung, path in files.items():
        types = matrix_types(path)
        # llama.cpp keeps the tied table (the output) at Q8_0 below 8 bits: 126 matrices + 1.
        assert types == ({"Q8_0": 127} if rung == "Q8_0" else {"Q4_0": 126, "Q8_0": 1}), types
    assert not list(files["Q8_0"].parent.glob("*.log"))
    again = ladder(source, ["Q4_0"], cache_dir, threads=2, log=lambda m: pytest.fail(f"made again: {m}"))
    assert again["Q4_0"] == files["Q4_0"]


@pytest.mark.slow
def test_llama_cpp_q8_0_measured_like_our_exports(rungs, real_exports, cache_dir):
    from edge_gemma.quality.llama_cpp import evaluate_gguf

    files, _ = rungs
    q = evaluate_gguf(files["Q8_0"], real_exports["int8"], threads=2, cache_dir=cache_dir)
    assert q["engine"] == "llama.cpp" and q["tokens"] > 4000
    # Measured (AMD EPYC, 2026-12-04): KL 0.00285, p99 0.0125, top-1 96.9 %, perplexity +0.02 %;
    # the field notes' llama-perplexity run had 0.0030.
    assert q["kl"] < 0.004 and q["kl_p99"] < 0.02 and q["top1"] > 0.96, q
    assert abs(q["ppl_ratio"] - 1) < 0.005 and q["greedy_agreement"] >= 16, q
