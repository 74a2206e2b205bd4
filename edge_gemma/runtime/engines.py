"""The engines that run an OpenVINO export, by name. Plain data: name -> class.

Both take (export_dir, device, compile properties), hold a `tokens` list (the sequence their
KV cache stands for) and implement `reset()` and `generate(new_ids, options, stop_ids, on_token)`.
"""

from __future__ import annotations

from ..errors import RuntimeCheckError
from .engine_genai import GenaiEngine
from .engine_optimum import OptimumEngine

ENGINES = {"genai": GenaiEngine, "optimum": OptimumEngine}
# Measured on Gemma 3 270M int4, 2 CPU threads (README, "Runtime benchmark"): genai decodes
# 1.3x as fast as optimum (111 vs 85 tokens/s) with a 3x shorter first token. It is also the
# only engine that drives an NPU.
DEFAULT_ENGINE = "genai"
NPU_ENGINES = ("genai",)


def engine_class(name: str | None):
    name = name or DEFAULT_ENGINE
    if name not in ENGINES:
        raise RuntimeCheckError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return ENGINES[name]
