"""Data-aware presets (AWQ, scale estimation, GPTQ, mixed precision) and the quality gate, on a
tiny random-weight Gemma 3 through the real export driver, NNCF and evaluation."""

from __future__ import annotations

import functools
import json

import pytest

from edge_gemma.errors import ExportError, QualityError
from edge_gemma.export.driver import ExportPlan, QualityOptions, run_export
from edge_gemma.quality import evaluate
from edge_gemma.quality.evaluate import MIN_TOKENS
from edge_gemma.recipes import QuantPreset, load_recipe
from edge_gemma.sources import parse_source

RECIPE = "gemma-3-1b-it"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One conversion cache for the module, as a user's: the tiny model is converted once, its
    reference computed once (the gate and the sweep evaluate the same checkpoint)."""
    return tmp_path_factory.mktemp("data-aware-cache")


def _short_text() -> str:
    """A third of the held-out text (about 1,600 tokens, over evaluate.MIN_TOKENS): the tiny
    model's figures mean nothing, the gate and the sweep are what is tested here, and the
    whole text's reference is 4.8 GB of logits."""
    from edge_gemma.texts import heldout_text

    return heldout_text()[: len(heldout_text()) // 3]


def _export(checkpoint, out, preset, cache, fmt="openvino", evaluate_it=True, **quality):
    plan = ExportPlan(load_recipe(RECIPE), preset, "int4", "int4", fmt)
    measure = functools.partial(evaluate, cache_dir=cache) if evaluate_it else None
    options = QualityOptions(measure, text=_short_text(), text_name="a third of the held-out text", **quality)
    return run_export(plan, parse_source(str(checkpoint)), out, cache, quality=options)


@pytest.mark.parametrize("preset", [
    QuantPreset(weights="int4", sym=True, group_size=64, awq=True, scale_estimation=True, subset_size=8),
    QuantPreset(weights="int4", group_size=64, gptq=True, subset_size=8),
    QuantPreset(weights="int4", group_size=64, ratio=0.5, sensitivity="hessian_input_activation", subset_size=8),
    QuantPreset(weights="int8", head="int4_sym", head_group_size=64, scale_estimation=True, subset_size=8),
], ids=["awq-se", "gptq", "mixed-hessian", "int8-layers-int4-head"])
def test_data_aware_openvino_export(tiny_checkpoint, tmp_path, preset, cache):
    out = tmp_path / "out"
    manifest = _export(tiny_checkpoint("gemma3_text"), out, preset, cache, evaluate_it=False)
    calibration = manifest["compression"]["calibration"]
    assert calibration["source"] == "builtin" and 1 <= calibration["samples"] <= 8
    assert manifest["compression"]["nncf"]["subset_size"] == 8 if preset.weights == "int4" else True
    assert (cache / "nncf-statistics").is_dir() or not preset.weights == "int4"
    assert "quality" not in manifest and "README.md" in {p.name for p in out.iterdir()}
    bitwidth = manifest["compression"]["bitwidth"]
    if preset.head:
        assert set(bitwidth) == {"int8_asym", "int4_sym"} and bitwidth["int4_sym"]["layers"] == 1
    else:
        assert any(k.startswith("int4") for k in bitwidth)


def test_statistics_and_the_conversion_are_cached_and_reused(tiny_checkpoint, tmp_path, capsys):
    # A cache of its own: the first export converts and collects, the second reads both back.
    preset = QuantPreset(weights="int4", sym=True, group_size=64, awq=True, scale_estimation=True, subset_size=8)
    own = tmp_path / "cache"
    first = _export(tiny_checkpoint("gemma3_text"), tmp_path / "a", preset, own, evaluate_it=False)
    saved = sorted(p.relative_to(tmp_path) for p in (own / "nncf-statistics").rglob("*") if p.is_file())
    assert saved and "the same conversion is cached" not in capsys.readouterr().err
    second = _export(tiny_checkpoint("gemma3_text"), tmp_path / "b", preset, own, evaluate_it=False)
    assert sorted(p.relative_to(tmp_path) for p in (own / "nncf-statistics").rglob("*")
                  if p.is_file()) == saved  # the same key: read back, not collected again
    assert "the same conversion is cached" in capsys.readouterr().err
    bins = [(tmp_path / d / "openvino_model.bin").read_bytes() for d in ("a", "b")]
    assert bins[0] == bins[1] and first["compression"]["nncf"] == second["compression"]["nncf"]


def test_data_aware_onnx_export_and_refusals(tiny_checkpoint, tmp_path, cache):
    preset = QuantPreset(weights="int4", group_size=64, awq=True, scale_estimation=True, subset_size=8)
    manifest = _export(tiny_checkpoint("gemma3_text"), tmp_path / "onnx", preset, cache, fmt="onnx",
                       evaluate_it=False)
    assert manifest["compression"]["calibration"]["samples"] >= 1
    assert manifest["compression"]["nncf"]["awq"] is True
    for bad, message in ((QuantPreset(weights="int4", gptq=True), "not gptq"),
                         (QuantPreset(weights="int8", head="int4_sym"), "drop `head`")):
        with pytest.raises(ExportError, match=message):
            _export(tiny_checkpoint("gemma3_text"), tmp_path / "x", bad, cache, fmt="onnx")
    assert not (tmp_path / "x").exists()


def test_quality_gate_fails_and_leaves_nothing(tiny_checkpoint, tmp_path, cache):
    out = tmp_path / "exports" / "gated"
    preset = QuantPreset(weights="int4", group_size=64, max_kl=1e-9)
    with pytest.raises(QualityError, match=r"KL .* is above the recipe's max_kl 1e-09; export QUANT=int8 .*"
                                           r"--accept-quality"):
        _export(tiny_checkpoint("gemma3_text"), out, preset, cache)
    assert list((tmp_path / "exports").iterdir()) == []
    manifest = _export(tiny_checkpoint("gemma3_text"), out, preset, cache, accept_quality=True)
    assert manifest["quality"]["kl"] > 1e-9 and manifest["quality"]["tokens"] > MIN_TOKENS
    assert json.loads((out / "manifest.json").read_text())["quality"] == manifest["quality"]


def test_sweep_exports_and_measures_each_candidate(tiny_checkpoint, tmp_path, capsys, cache):
    from edge_gemma.cli import main

    candidates = tmp_path / "c.yaml"
    candidates.write_text("plain: {weights: int4, sym: true, group_size: 64}\nint8: {weights: int8}\n")
    eval_text = tmp_path / "short.txt"
    eval_text.write_text(_short_text())
    out = tmp_path / "sweep"
    assert main(["sweep", RECIPE, "--source", str(tiny_checkpoint("gemma3_text")), "--candidates", str(candidates),
                 "--output", str(out), "--no-speed", "--eval-text", str(eval_text), "--cache-dir", str(cache)]) == 0
    text = capsys.readouterr().out
    assert "| plain |" in text and "| int8 |" in text
    report = json.loads((out / "sweep.json").read_text())
    assert [r["name"] for r in report["rows"]] == ["plain", "int8"]
    assert all((out / r["name"] / "README.md").is_file() for r in report["rows"])
    assert sorted(p.name for p in out.iterdir()) == ["int8", "plain", "sweep.json", "sweep.md"]
    # --reuse keeps finished candidates of the same preset: no export, the same figures.
    assert main(["sweep", RECIPE, "--source", str(tiny_checkpoint("gemma3_text")), "--candidates", str(candidates),
                 "--output", str(out), "--no-speed", "--reuse", "--eval-text", str(eval_text), "--cache-dir", str(cache)]) == 0
    assert capsys.readouterr().err.count(": reusing ") == 2
    assert json.loads((out / "sweep.json").read_text())["rows"] == report["rows"]
