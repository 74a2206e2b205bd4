"""Where things go on disk: export folders, model.yaml files and the conversion cache."""

from __future__ import annotations

import os
from pathlib import Path

EXPORTS_DIR = Path("exports")
MODEL_YAML_DIR = Path("model_yaml")
MODEL_XML = "openvino_model.xml"
MODEL_ONNX = "model.onnx"
MANIFEST = "manifest.json"


def export_name(model: str, quant: str, format: str = "openvino") -> str:
    """gemma-3-270m-int4 (OpenVINO), gemma-3-270m-int4-onnx (ONNX)."""
    return f"{model}-{quant}" if format == "openvino" else f"{model}-{quant}-{format}"


def default_cache_dir() -> Path:
    """GGUF files and the checkpoints converted from them; EDGE_GEMMA_CACHE overrides."""
    if "EDGE_GEMMA_CACHE" in os.environ:
        return Path(os.environ["EDGE_GEMMA_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "edge_gemma"
