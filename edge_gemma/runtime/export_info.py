"""What the runtime needs to know about an export folder, read from its manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import RuntimeCheckError
from ..layout import MANIFEST, MODEL_ONNX, MODEL_XML
from ..export.manifest import read_manifest
from .device_config import npu_problems


@dataclass(frozen=True)
class ExportInfo:
    dir: Path
    model: str
    quant: str
    format: str  # openvino | onnx
    context_size: int
    stop_words: tuple[str, ...]
    compression: dict | None  # the NNCF arguments, None for fp16
    manifest: dict

    @property
    def npu_problems(self) -> list[str]:
        return npu_problems(self.compression)


def read_export(export_dir: str | Path) -> ExportInfo:
    """The export in `export_dir`, or a one-line error if the folder is not one."""
    folder = Path(export_dir)
    has_model = (folder / MODEL_XML).is_file() or (folder / MODEL_ONNX).is_file()
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
        format=manifest.get("format", "openvino"),
        context_size=recipe["context_size"],
        stop_words=tuple(recipe["stop_words"]),
        compression=(manifest.get("compression") or {}).get("nncf"),
        manifest=manifest,
    )
