"""The engines that run an export, and the interface each one implements.

An engine owns a model's KV cache and its decode loop; EdgeModel (model.py) owns the text
side (tokenizer, chat template, stop strings) and hands engines token ids. The registry
below is plain data: name -> class. An engine's `format` says which exports it runs.

    genai.py    openvino-genai LLMPipeline (C++ decode loop), OpenVINO IR, CPU/GPU/NPU
    optimum.py  optimum-intel OVModelForCausalLM stepped from Python, OpenVINO IR, CPU/GPU
    ort.py      ONNX Runtime stepped from Python, ONNX exports, CPU
    stepped.py  the decode loop the two Python-stepped engines share
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Protocol

from ...errors import RuntimeCheckError
from ..options import GenerationOptions
from ..tokenizer import Tokenizer
from .genai import GenaiEngine
from .optimum import OptimumEngine
from .ort import OrtEngine


class Engine(Protocol):
    name: ClassVar[str]  # the --engine name
    format: ClassVar[str]  # the exports it runs: openvino | onnx
    devices: ClassVar[tuple[str, ...]]  # the device kinds it can drive
    device: str  # the device it was loaded on
    tokens: list[int]  # the sequence its KV cache stands for (all but the last token are in it)

    def __init__(self, export_dir: Path, device: str, config: dict) -> None: ...

    def tokenizer(self) -> Tokenizer:
        """The export's tokenizer, as this engine's dependencies allow (tokenizer.py)."""

    def reset(self) -> None:
        """Forget the sequence: the next call starts from an empty KV cache."""

    def generate(self, new_ids: list[int], options: GenerationOptions, stop_ids: set[int],
                 on_token: Callable[[int], bool]) -> None:
        """Append `new_ids` to `tokens`, then decode, appending each new token, until a stop
        id (unless options.ignore_eos), max_new_tokens, or `on_token(token)` returns True."""


ENGINES: dict[str, type[Engine]] = {"genai": GenaiEngine, "optimum": OptimumEngine, "ort": OrtEngine}
# genai decodes faster than optimum with a shorter first token (docs/benchmarks.md) and is the
# only engine that drives an NPU; ort is the one engine for ONNX exports.
DEFAULT_ENGINE = {"openvino": "genai", "onnx": "ort"}


def engine_class(name: str | None, format: str = "openvino") -> type[Engine]:
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
