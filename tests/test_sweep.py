"""`edge-gemma sweep`: candidates parse like recipe presets; the Pareto front; the table."""

from __future__ import annotations

import pytest

from edge_gemma.cli import main
from edge_gemma.commands.sweep import DEFAULT_CANDIDATES, pareto, read_candidates, table
from edge_gemma.errors import RecipeError


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


def _row(name, kl, top1, speed):
    return {"name": name, "kl": kl, "top1": top1, "decode_tokens_per_s": speed, "mb": 200.0,
            "mb_per_token": 190.0, "ppl_ratio": 1.1, "ttft_ms_128": 30.0}


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
    assert "| a | 200 | 190 | 130.0 | 1.30x | 30.0 | 0.05 | 90.0 % | +10.0 % | * |" in text
