"""The export folder's contract: the file names in it and what its manifest says.

Written by export/ and read by every stage after it (runtime, quality, benchmark, serve), so
it sits below all of them: nothing that runs an export imports the code that makes one.

    <export>/openvino_model.xml|.bin   or   model.onnx + model.onnx.data
    <export>/manifest.json             what it was made from and what it holds (export/manifest.py)
    <export>/README.md                 its model card (export/card.py)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .devices import npu_weight_problems
from .errors import RuntimeCheckError

MODEL_XML = "openvino_model.xml"
MODEL_ONNX = "model.onnx"
# Export formats and the model file the runtime opens in each (export/driver.py has a
# backend for each; a test keeps the two in step).
MODEL_FILES = {"openvino": MODEL_XML, "onnx": MODEL_ONNX}
FORMATS = tuple(MODEL_FILES)
MANIFEST = "manifest.json"
CARD = "README.md"
# The model files themselves (graph and weights), tokenizer excluded: openvino_model.xml/.bin,
# model.onnx, model.onnx.data.
MODEL_FILE_PREFIXES = ("openvino_model", "model.onnx")


def read_manifest(folder: Path) -> dict:
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))


def save_manifest(folder: Path, manifest: dict) -> None:
    """Write a manifest (a new one, or one with its quality section added) as it is."""
    (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def label(manifest: dict) -> str:
    """What an export is called: its quant level, or a sweep candidate's name."""
    return manifest.get("candidate") or manifest["quant"]


def model_file_bytes(manifest: dict) -> int:
    """Bytes of the model files (MODEL_FILE_PREFIXES) the manifest lists."""
    return sum(f["bytes"] for f in manifest.get("files", []) if f["path"].startswith(MODEL_FILE_PREFIXES))


def npu_problems(compression: dict | None) -> list[str]:
    """Why an export's weights cannot run on the NPU (empty when they can).

    `compression` is the manifest's "nncf" section (None for fp16); the rule itself is
    `devices.npu_weight_problems`, the same one the recipe check uses.
    """
    if not compression:
        return ["its weights are not compressed to int4"]
    return npu_weight_problems(compression.get("mode"), compression.get("ratio"), compression.get("group_size"))


@dataclass(frozen=True)
class ExportInfo:
    """What the stages after export need to know about an export folder."""

    dir: Path
    model: str
    quant: str | None  # the recipe's quant level; None for a sweep candidate
    label: str  # the quant level, or the sweep candidate's name
    format: str  # openvino | onnx
    context_size: int
    stop_words: tuple[str, ...]
    compression: dict | None  # the NNCF arguments, None for fp16
    manifest: dict

    @property
    def npu_problems(self) -> list[str]:
        return npu_problems(self.compression)

    @property
    def bitwidths(self) -> tuple[str, ...]:
        """The kinds of compressed weight the export holds (manifest "bitwidth": int8_asym, ...)."""
        return tuple(((self.manifest.get("compression") or {}).get("bitwidth") or {}).keys())

    @property
    def model_file(self) -> Path:
        return self.dir / MODEL_FILES[self.format]


def read_export(export_dir: str | Path) -> ExportInfo:
    """The export in `export_dir`, or a one-line error if the folder is not one."""
    folder = Path(export_dir)
    has_model = any((folder / name).is_file() for name in MODEL_FILES.values())
    if not has_model or not (folder / MANIFEST).is_file():
        raise RuntimeCheckError(
            f"{folder} is not an edge-gemma export (no {MODEL_XML} or {MODEL_ONNX}, and {MANIFEST}); "
            "make one with `make export MODEL=... QUANT=...` (FORMAT=onnx for ONNX)"
        )
    manifest = read_manifest(folder)
    recipe = manifest["recipe"]
    return ExportInfo(
        dir=folder,
        model=manifest["model"],
        quant=manifest["quant"],
        label=label(manifest),
        format=manifest.get("format", "openvino"),
        context_size=recipe["context_size"],
        stop_words=tuple(recipe["stop_words"]),
        compression=(manifest.get("compression") or {}).get("nncf"),
        manifest=manifest,
    )
