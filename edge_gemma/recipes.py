"""Recipes: one YAML file per model in `recipes/`, parsed into frozen dataclasses.

Parsing collects every problem in a file before raising, so a user fixes a recipe in one
pass. Each problem names the key and, where there is a fixed set, the valid choices.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import yaml

from .chat_formats import CHAT_FORMATS, TURN_END
from .devices import NPU_RULE, npu_weight_problems
from .errors import EdgeGemmaError, RecipeError
from .families import FAMILIES

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"

QUANT_LEVELS = ("fp16", "int8", "int4", "int4-npu", "int8-g32", "gguf")
# Every recipe defines these. The others have a preset of their own that a recipe may leave
# out (DEFAULT_PRESETS) or override: `int8-g32` (symmetric int8 in groups of 32, llama.cpp's
# Q8_0 format, export/int8_groups.py) and `gguf` (a GGUF source's own blocks,
# export/gguf_weights.py; nothing to tune but a max_kl).
REQUIRED_LEVELS = QUANT_LEVELS[:4]
WEIGHT_FORMATS = ("fp16", "int8", "int4", "gguf")
BACKUP_PRECISIONS = ("int8_asym", "int8_sym", "none")
HEAD_PRECISIONS = ("int8_asym", "int8_sym", "int4_asym", "int4_sym")
# NNCF's SensitivityMetric values; all but the first need calibration data.
SENSITIVITY_METRICS = ("weight_quantization_error", "hessian_input_activation", "mean_activation_variance",
                       "max_activation_variance", "mean_activation_magnitude")
DATA_AWARE_METRICS = SENSITIVITY_METRICS[1:]
CALIBRATION_SOURCES = ("builtin", "generated")
# NNCF's GroupSizeFallbackMode for a matrix whose width the int4 group does not divide:
# error (NNCF's default), ignore (leave it in backup precision), adjust (a smaller group).
GROUP_FALLBACKS = ("error", "ignore", "adjust")
USECASES = ("chat", "completion")


def weight_mode(weights: str, sym: bool) -> str:
    """NNCF's name for a weight format: int4_sym, int8_asym, ..."""
    return f"{weights}_{'sym' if sym else 'asym'}"


@dataclass(frozen=True)
class QuantPreset:
    """How NNCF compresses the weights for one QUANT level (see export/compression.py).

    The decoder layers get `weights`; the embedding / LM head (one tied matrix in every
    Gemma) gets `head` when given, compressed in a pass of its own, else NNCF's default
    for it (`backup`, or int4 with the layers when `all_layers`). The data-aware keys run
    NNCF on calibration text (`calibration`) and apply to the int4 parts only.
    """

    weights: str  # fp16 | int8 | int4 | gguf (the source GGUF's own quantized blocks)
    sym: bool = False
    group_size: int = -1  # -1: one scale per output channel; int8 in groups: int8_groups.py, not NNCF
    ratio: float = 1.0  # share of int4-eligible layers kept in int4; the rest use `backup`
    backup: str = "int8_asym"  # precision of the layers int4 leaves out (embeddings, LM head)
    group_fallback: str = "error"  # a matrix the group does not divide: GROUP_FALLBACKS
    all_layers: bool = False  # also put embeddings and the LM head in int4
    head: str = ""  # precision of the embedding / LM head on its own: int8_asym, int4_sym, ...
    head_group_size: int = -1  # group size of an int4 head
    uncompressed: str = ""  # a regex of node names NNCF leaves in 16 bits (its ignored scope)
    awq: bool = False  # activation-aware weight quantization (NNCF matches MLP down_proj)
    scale_estimation: bool = False  # data-aware int4 scales
    gptq: bool = False
    lora_correction: bool = False
    subset_size: int = 128  # calibration samples NNCF uses
    sensitivity: str = ""  # ratio < 1: how NNCF ranks layers for int4 (SENSITIVITY_METRICS)
    calibration: str = "builtin"  # builtin text, or text the model generates itself
    max_kl: float = 0.0  # quality gate: the export fails above this mean KL (0: no gate)

    @property
    def mode(self) -> str:
        return weight_mode(self.weights, self.sym)

    @property
    def int8_groups(self) -> bool:
        """int8 in groups: written by edge_gemma (export/int8_groups.py); NNCF's int8 is per channel."""
        return self.weights == "int8" and self.group_size > 0

    @property
    def data_aware(self) -> bool:
        return (self.awq or self.scale_estimation or self.gptq or self.lora_correction
                or self.sensitivity in DATA_AWARE_METRICS)


GGUF_PRESET = QuantPreset(weights="gguf")
# int8-g32's KL bound: 0.0014 measured on the 270M (docs/quality.md), with room for other models.
INT8_G32_PRESET = QuantPreset(weights="int8", sym=True, group_size=32, max_kl=0.01)
DEFAULT_PRESETS = {"int8-g32": INT8_G32_PRESET, "gguf": GGUF_PRESET}


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
    instruction_tuned: bool = True  # False for a base model: `chat` says it continues text instead
    no_npu: str = ""  # why the recipe has no int4-npu level (the NPU cannot run the model)

    @property
    def levels(self) -> tuple[str, ...]:
        """The QUANT levels this recipe exports (gguf for a GGUF source only: gguf_weights.py)."""
        return tuple(self.quant) + tuple(level for level in DEFAULT_PRESETS if level not in self.quant)

    def preset(self, level: str) -> QuantPreset:
        if level == "int4-npu" and self.no_npu:
            raise EdgeGemmaError(f"{self.name} has no int4-npu level: {self.no_npu}; pick QUANT=int4 for CPU or GPU")
        if level in DEFAULT_PRESETS and level not in self.quant:
            return DEFAULT_PRESETS[level]
        if level not in self.quant:
            raise EdgeGemmaError(
                f"unknown QUANT '{level}' for {self.name}; choose one of: {', '.join(self.levels)}"
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
# Keys a recipe may leave out, and their defaults.
_OPTIONAL = {"instruction_tuned": (bool, True), "no_npu": (str, "")}
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


def _int8_group_rules(key: str, level: str, values: dict, problems: list[str]) -> None:
    """int8 in groups is edge_gemma's own writer (export/int8_groups.py), llama.cpp's Q8_0 form:
    symmetric, no other setting, and not what the int8 (NNCF's, per channel) or the int4-npu
    level hold."""
    extra = sorted(set(values) - {"weights", "sym", "group_size", "max_kl"})
    if not values.get("sym", False):
        problems.append(f"{key}: int8 in groups is symmetric (llama.cpp's Q8_0 form): set sym: true")
    if extra:
        problems.append(f"{key}: int8 in groups takes sym, group_size and max_kl only, not {', '.join(extra)}")
    if level == "int8":
        # Kept apart: in ONNX Runtime the groups decode 10-25 % slower than per channel (docs/quality.md).
        problems.append(f"{key}: the int8 level is NNCF's per channel; int8 in groups is the int8-g32 level")
    if level == "int4-npu":
        found = npu_weight_problems(weight_mode("int8", values.get("sym", False)), 1.0, values["group_size"])
        problems.append(f"{key}: NPU needs {NPU_RULE} ({'; '.join(found)})")


def _preset_rules(key: str, level: str, values: dict, problems: list[str]) -> None:
    """The rules a preset's values must keep, each broken one appended to `problems`."""
    get = values.get
    weights = values["weights"]
    _choice(problems, f"{key}.weights", weights, WEIGHT_FORMATS)
    _choice(problems, f"{key}.backup", get("backup", "int8_asym"), BACKUP_PRECISIONS)
    _choice(problems, f"{key}.calibration", get("calibration", "builtin"), CALIBRATION_SOURCES)
    _choice(problems, f"{key}.group_fallback", get("group_fallback", "error"), GROUP_FALLBACKS)
    if get("head"):
        _choice(problems, f"{key}.head", get("head"), HEAD_PRECISIONS)
    if get("sensitivity"):
        _choice(problems, f"{key}.sensitivity", get("sensitivity"), SENSITIVITY_METRICS)
    for name in ("group_size", "head_group_size"):
        group = get(name, -1)
        if group != -1 and (group <= 0 or group % 32):
            problems.append(f"{key}.{name}: {group} must be -1 (channel-wise) or a positive multiple of 32")
    if get("uncompressed"):
        try:
            re.compile(get("uncompressed"))
        except re.error as exc:
            problems.append(f"{key}.uncompressed: {get('uncompressed')!r} is not a regular expression ({exc})")
    ratio = get("ratio", 1.0)
    if not 0.0 < ratio <= 1.0:
        problems.append(f"{key}.ratio: {ratio} must be in (0, 1]")
    if get("subset_size", 128) <= 0:
        problems.append(f"{key}.subset_size: {get('subset_size')} must be a positive number of samples")
    if get("max_kl", 0.0) < 0:
        problems.append(f"{key}.max_kl: {get('max_kl')} must be positive (0 or absent: no quality gate)")

    if level == "int8-g32" and (weights, get("group_size", -1)) != ("int8", 32):
        problems.append(f"{key}: the int8-g32 level is int8 in groups of 32: weights int8, sym true, group_size 32")
    if (weights == "gguf") != (level == "gguf"):
        problems.append(f"{key}: weights gguf is the gguf level's, and the gguf level's only")
    if weights == "int8" and get("group_size", -1) != -1:
        _int8_group_rules(key, level, values, problems)
        return
    if weights != "int4":
        extra = sorted(set(values) & {"group_size", "ratio", "backup", "all_layers", "sensitivity", "group_fallback"})
        if extra:
            problems.append(f"{key}: {', '.join(extra)} only apply to int4 weights")
    if weights in ("fp16", "gguf"):
        extra = sorted(set(values) - {"weights", "max_kl"})
        if extra:
            why = "are not quantized" if weights == "fp16" else "keep the GGUF's own quantization"
            problems.append(f"{key}: {weights} weights {why}, so {', '.join(extra)} do not apply")
        return
    head = get("head", "")
    if "head_group_size" in values and not head.startswith("int4"):
        problems.append(f"{key}.head_group_size: only applies to an int4 head (head: int4_sym or int4_asym)")
    if head and get("all_layers"):
        problems.append(f"{key}: all_layers puts the head in int4 with the layers; give head or all_layers, not both")
    data_aware = [k for k in ("awq", "scale_estimation", "gptq", "lora_correction") if get(k)]
    if get("sensitivity") in DATA_AWARE_METRICS:
        data_aware.append(f"sensitivity {get('sensitivity')}")
    if data_aware and weights != "int4" and not head.startswith("int4"):
        problems.append(f"{key}: {', '.join(data_aware)} only apply to int4 weights (NNCF rejects them for int8)")
    if get("gptq") and get("lora_correction"):
        problems.append(f"{key}: gptq and lora_correction exclude each other (NNCF 3.4); keep one")
    if get("sensitivity") and ratio == 1.0:
        problems.append(f"{key}.sensitivity: only applies to mixed precision (ratio < 1)")
    if not data_aware and ("subset_size" in values or "calibration" in values):
        problems.append(f"{key}: subset_size and calibration only apply with a data-aware method "
                        "(awq, scale_estimation, gptq, lora_correction, or a data-aware sensitivity)")
    if level == "int4-npu":
        found = npu_weight_problems(weight_mode(weights, get("sym", False)), ratio, get("group_size", -1))
        if head and head != "int4_sym" and head != "int8_sym":
            found.append(f"head {head} has zero points")
        if get("lora_correction"):
            found.append("lora_correction adds adapter layers outside that format")
        if found:
            problems.append(f"{key}: NPU needs {NPU_RULE} ({'; '.join(found)})")


def parse_preset(name: str, raw, problems: list[str], level: str | None = None) -> QuantPreset | None:
    """One preset (a recipe's `quant.<level>`, or a sweep candidate `name` judged as `level`);
    its problems are appended to `problems`."""
    level = level or name
    key = f"quant.{name}" if name == level else name
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
    _preset_rules(key, level, values, problems)
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
        if key not in _REQUIRED and key not in _OPTIONAL:
            problems.append(f"{key}: unknown key; valid keys: {', '.join([*_REQUIRED, *_OPTIONAL])}")
    for key, (expected, _) in _OPTIONAL.items():
        if key in raw and not _type_ok(raw[key], expected):
            problems.append(f"{key}: expected {expected.__name__}, got {type(raw[key]).__name__} {raw[key]!r}")
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
    elif ok("stop_words") and ok("chat_format") and raw["chat_format"] in TURN_END:
        turn_end = TURN_END[raw["chat_format"]]
        if turn_end not in raw["stop_words"]:
            problems.append(f"stop_words: {raw['chat_format']} turns end with {turn_end}; list it, or chat runs past the turn")
    if ok("usecases"):
        for usecase in raw["usecases"]:
            _choice(problems, "usecases", usecase, USECASES)
    presets = {}
    if ok("quant"):
        for level, preset_raw in raw["quant"].items():
            if level not in QUANT_LEVELS:
                problems.append(f"quant.{level}: unknown quant level; valid levels: {', '.join(QUANT_LEVELS)}")
                continue
            preset = parse_preset(level, preset_raw, problems)
            if preset is not None:
                presets[level] = preset
        npu_refused = bool(raw.get("no_npu"))
        for level in REQUIRED_LEVELS:
            if level == "int4-npu" and npu_refused:
                if level in raw["quant"]:
                    problems.append("no_npu: the recipe says the NPU cannot run it, yet defines quant.int4-npu; keep one")
            elif level not in raw["quant"]:
                problems.append(f"quant.{level}: missing; every recipe defines {', '.join(REQUIRED_LEVELS)} "
                                "(int4-npu may be replaced by `no_npu: <why>`)")
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
        quant=MappingProxyType({level: presets[level] for level in QUANT_LEVELS if level in presets}),
        file=str(path),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        **{key: raw.get(key, default) for key, (_, default) in _OPTIONAL.items()},
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
