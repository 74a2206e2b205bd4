"""The engines, by name. Plain data: name -> class.

Each takes (export_dir, device, config), holds a `tokens` list (the sequence its KV cache
stands for) and implements `reset()` and `generate(new_ids, options, stop_ids, on_token)`.
Its `format` says which exports it runs: genai and optimum run OpenVINO IR, ort runs ONNX.
"""

from __future__ import annotations

from ..errors import RuntimeCheckError
from .engine_genai import GenaiEngine
from .engine_optimum import OptimumEngine
from .engine_ort import OrtEngine

ENGINES = {"genai": GenaiEngine, "optimum": OptimumEngine, "ort": OrtEngine}
# Measured on Gemma 3 270M int4, 2 CPU threads (README, "Runtime benchmark"): genai decodes
# 1.3x as fast as optimum (111 vs 85 tokens/s) with a 3x shorter first token. It is also the
# only engine that drives an NPU.
DEFAULT_ENGINE = {"openvino": "genai", "onnx": "ort"}
NPU_ENGINES = ("genai",)


def engine_class(name: str | None, format: str = "openvino"):
    """The engine called `name` (default: the format's), checked against the export's format."""
    name = name or DEFAULT_ENGINE[format]
    if name not in ENGINES:
        raise RuntimeCheckError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    cls = ENGINES[name]
    if cls.format != format:
        fits = ", ".join(n for n, c in ENGINES.items() if c.format == format)
        raise RuntimeCheckError(f"engine {name} runs {cls.format} exports and this export is {format}; "
                                f"use --engine {fits}")
    return cls
