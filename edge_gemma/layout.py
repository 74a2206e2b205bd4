"""Where things go on disk: export folders, model.yaml files and the conversion cache.

The one place an export's folder name is made; the Makefile asks the CLI for it (`--model M
--quant Q --format F` on generate, chat and bench) instead of spelling it again.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL = "gemma-3-270m"
DEFAULT_QUANT = "int4"
EXPORTS_DIR = Path("exports")
MODEL_YAML_DIR = Path("model_yaml")


def export_name(model: str, quant: str, format: str = "openvino") -> str:
    """gemma-3-270m-int4 (OpenVINO), gemma-3-270m-int4-onnx (ONNX)."""
    return f"{model}-{quant}" if format == "openvino" else f"{model}-{quant}-{format}"


def default_export_dir(model: str, quant: str, format: str = "openvino") -> Path:
    """exports/<export_name>: where `make export` puts it."""
    return EXPORTS_DIR / export_name(model, quant, format)


def model_yaml_beside(export_dir: Path) -> Path:
    """The LocalAI definition of an export: `<name>.yaml` next to the `<name>/` folder, so the
    folder that holds both is a LocalAI models directory (parameters.model is relative to it)."""
    return export_dir.parent / f"{export_dir.name}.yaml"


def default_cache_dir() -> Path:
    """GGUF files and the checkpoints converted from them; EDGE_GEMMA_CACHE overrides."""
    if "EDGE_GEMMA_CACHE" in os.environ:
        return Path(os.environ["EDGE_GEMMA_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "edge_gemma"
