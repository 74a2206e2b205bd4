"""Recipes: one YAML file per model in `recipes/`, parsed into frozen dataclasses.

Parsing collects every problem in a file before raising, so a user fixes a recipe in one
pass. Each problem names the key and, where there is a fixed set, the valid choices.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import yaml

from .chat_formats import CHAT_FORMATS
from .devices import NPU_RULE, npu_weight_problems
from .errors import EdgeGemmaError, RecipeError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"

FAMILIES = ("gemma", "gemma2", "gemma3_text")
QUANT_LEVELS = ("fp16", "int8", "int4", "int4-npu")
WEIGHT_FORMATS = ("fp16", "int8", "int4")
BACKUP_PRECISIONS = ("int8_asym", "int8_sym", "none")
USECASES = ("chat", "completion")


def weight_mode(weights: str, sym: bool) -> str:
    """NNCF's name for a weight format: int4_sym, int8_asym, ..."""
    return f"{weights}_{'sym' if sym else 'asym'}"


@dataclass(frozen=True)
class QuantPreset:
    """How NNCF compresses the weights for one QUANT level (see compression.py)."""

    weights: str  # fp16 | int8 | int4
    sym: bool = False
    group_size: int = -1  # -1: one scale per output channel
    ratio: float = 1.0  # share of int4-eligible layers kept in int4; the rest use `backup`
    backup: str = "int8_asym"  # precision of the layers int4 leaves out (embeddings, LM head)
    all_layers: bool = False  # also put embeddings and the LM head in int4

    @property
    def mode(self) -> str:
        return weight_mode(self.weights, self.sym)


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    family: str
    source: str
    context_size: int
    chat_format: str
    stop_words: tuple[str, ...]
    usecases: tuple[str, ...]
    quant: Mapping[str, QuantPreset]
    file: str
    sha256: str

    def preset(self, level: str) -> QuantPreset:
        if level not in self.quant:
            raise EdgeGemmaError(
                f"unknown QUANT '{level}' for {self.name}; choose one of: {', '.join(self.quant)}"
            )
        return self.quant[level]

    def as_dict(self) -> dict:
        """Plain data for manifests."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["stop_words"] = list(self.stop_words)
        data["usecases"] = list(self.usecases)
        data["quant"] = {k: vars(v).copy() for k, v in self.quant.items()}
        return data


_REQUIRED = {
    "name": str,
    "description": str,
    "family": str,
    "source": str,
    "context_size": int,
    "chat_format": str,
    "stop_words": list,
    "usecases": list,
    "quant": dict,
}
_PRESET_TYPES = {f.name: f.type for f in fields(QuantPreset)}
_PYTHON_TYPES = {"str": str, "bool": bool, "int": int, "float": (int, float)}


def _type_ok(value, expected) -> bool:
    # bool is a subclass of int in Python; a recipe that says `context_size: true` is wrong.
    if isinstance(value, bool) and expected is not bool:
        return False
    return isinstance(value, expected)


def _choice(problems, key, value, choices):
    if value not in choices:
        problems.append(f"{key}: {value!r} is not one of: {', '.join(map(str, choices))}")


def _parse_preset(level: str, raw, problems: list[str]) -> QuantPreset | None:
    key = f"quant.{level}"
    if not isinstance(raw, dict):
        problems.append(f"{key}: expected a mapping of preset settings, got {type(raw).__name__}")
        return None
    values, ok = {}, True
    for k, v in raw.items():
        if k not in _PRESET_TYPES:
            problems.append(f"{key}.{k}: unknown key; valid keys: {', '.join(_PRESET_TYPES)}")
            ok = False
            continue
        expected = _PYTHON_TYPES[_PRESET_TYPES[k]]
        if not _type_ok(v, expected):
            problems.append(f"{key}.{k}: expected {_PRESET_TYPES[k]}, got {type(v).__name__} {v!r}")
            ok = False
            continue
        values[k] = v
    if "weights" not in values:
        if "weights" not in raw:
            problems.append(f"{key}.weights: missing; choose one of: {', '.join(WEIGHT_FORMATS)}")
        return None
    n = len(problems)
    _choice(problems, f"{key}.weights", values["weights"], WEIGHT_FORMATS)
    _choice(problems, f"{key}.backup", values.get("backup", "int8_asym"), BACKUP_PRECISIONS)
    group = values.get("group_size", -1)
    if group != -1 and (group <= 0 or group % 32):
        problems.append(f"{key}.group_size: {group} must be -1 (channel-wise) or a positive multiple of 32")
    ratio = values.get("ratio", 1.0)
    if not 0.0 < ratio <= 1.0:
        problems.append(f"{key}.ratio: {ratio} must be in (0, 1]")
    if values["weights"] != "int4":
        extra = sorted(set(values) & {"group_size", "ratio", "backup", "all_layers"})
        if extra:
            problems.append(f"{key}: {', '.join(extra)} only apply to int4 weights")
    if values["weights"] == "fp16" and "sym" in values:
        problems.append(f"{key}.sym: fp16 weights are not quantized")
    if level == "int4-npu" and values["weights"] == "int4":
        found = npu_weight_problems(weight_mode("int4", values.get("sym", False)), ratio, group)
        if found:
            problems.append(f"{key}: NPU needs {NPU_RULE} ({'; '.join(found)})")
    if not ok or len(problems) > n:
        return None
    return QuantPreset(**values)


def parse_recipe(path: str | Path, text: str | None = None) -> Recipe:
    """Parse and validate one recipe file; raise RecipeError listing every problem."""
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RecipeError(path, [f"cannot read: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RecipeError(path, [f"not valid YAML: {str(exc).splitlines()[0]}"]) from None
    if not isinstance(raw, dict):
        raise RecipeError(path, ["expected a mapping of recipe keys at the top level"])

    problems: list[str] = []
    for key in raw:
        if key not in _REQUIRED:
            problems.append(f"{key}: unknown key; valid keys: {', '.join(_REQUIRED)}")
    for key, expected in _REQUIRED.items():
        if key not in raw:
            problems.append(f"{key}: missing")
        elif not _type_ok(raw[key], expected):
            problems.append(f"{key}: expected {expected.__name__}, got {type(raw[key]).__name__} {raw[key]!r}")

    def ok(key):
        return key in raw and _type_ok(raw[key], _REQUIRED[key])

    if ok("name") and raw["name"] != path.stem:
        problems.append(f"name: {raw['name']!r} must match the file name {path.stem!r}")
    if ok("family"):
        _choice(problems, "family", raw["family"], FAMILIES)
    if ok("chat_format"):
        _choice(problems, "chat_format", raw["chat_format"], tuple(CHAT_FORMATS))
    if ok("context_size") and raw["context_size"] <= 0:
        problems.append(f"context_size: {raw['context_size']} must be positive")
    if ok("stop_words") and not all(isinstance(w, str) and w for w in raw["stop_words"]):
        problems.append("stop_words: expected a list of non-empty strings")
    if ok("usecases"):
        for usecase in raw["usecases"]:
            _choice(problems, "usecases", usecase, USECASES)
    presets = {}
    if ok("quant"):
        for level, preset_raw in raw["quant"].items():
            if level not in QUANT_LEVELS:
                problems.append(f"quant.{level}: unknown quant level; valid levels: {', '.join(QUANT_LEVELS)}")
                continue
            preset = _parse_preset(level, preset_raw, problems)
            if preset is not None:
                presets[level] = preset
        for level in QUANT_LEVELS:
            if level not in raw["quant"]:
                problems.append(f"quant.{level}: missing; every recipe defines {', '.join(QUANT_LEVELS)}")
    if problems:
        raise RecipeError(path, problems)

    return Recipe(
        name=raw["name"],
        description=raw["description"].strip(),
        family=raw["family"],
        source=raw["source"],
        context_size=raw["context_size"],
        chat_format=raw["chat_format"],
        stop_words=tuple(raw["stop_words"]),
        usecases=tuple(raw["usecases"]),
        quant=MappingProxyType({level: presets[level] for level in QUANT_LEVELS}),
        file=str(path),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def recipe_names(recipes_dir: Path = RECIPES_DIR) -> list[str]:
    return sorted(p.stem for p in recipes_dir.glob("*.yaml"))


def load_recipe(name: str, recipes_dir: Path = RECIPES_DIR) -> Recipe:
    path = recipes_dir / f"{name}.yaml"
    if not path.is_file():
        raise EdgeGemmaError(
            f"unknown MODEL '{name}'; choose one of: {', '.join(recipe_names(recipes_dir))}"
        )
    return parse_recipe(path)


def load_all(recipes_dir: Path = RECIPES_DIR) -> tuple[list[Recipe], list[RecipeError]]:
    """Every recipe in the folder, and the errors of those that failed to parse."""
    recipes, errors = [], []
    for name in recipe_names(recipes_dir):
        try:
            recipes.append(parse_recipe(recipes_dir / f"{name}.yaml"))
        except RecipeError as exc:
            errors.append(exc)
    return recipes, errors
