"""The engine registry and the interface every engine implements."""

from __future__ import annotations

import pytest

from edge_gemma.errors import RuntimeCheckError
from edge_gemma.export_folder import FORMATS
from edge_gemma.runtime.engines import DEFAULT_ENGINE, ENGINES, Engine, engine_class


def test_engine_must_fit_the_export_format():
    assert engine_class(None, "onnx").name == "ort" and engine_class(None, "openvino").name == "genai"
    with pytest.raises(RuntimeCheckError, match="engine genai runs openvino exports .* use --engine ort"):
        engine_class("genai", "onnx")
    with pytest.raises(RuntimeCheckError, match="use --engine genai, optimum"):
        engine_class("ort", "openvino")


def test_every_engine_declares_what_the_interface_asks():
    # typing.Protocol names the members; each registered class has the class-level ones
    # and the methods (instances add `device` and `tokens`, checked on the real model).
    for name, cls in ENGINES.items():
        assert cls.name == name and cls.format in FORMATS and set(cls.devices) <= {"CPU", "GPU", "NPU"}
        for method in ("reset", "generate"):
            assert callable(getattr(cls, method)), (name, method)
    assert set(DEFAULT_ENGINE) == set(FORMATS)
    assert {ENGINES[name].format for name in DEFAULT_ENGINE.values()} == set(FORMATS)
    assert [n for n, c in ENGINES.items() if "NPU" in c.devices] == ["genai"]  # only openvino-genai drives an NPU
    assert Engine.__annotations__.keys() >= {"name", "format", "devices", "device", "tokens"}


@pytest.mark.parametrize("engine", list(ENGINES))
def test_loaded_engines_hold_their_device_and_tokens(loaded, engine):
    model = loaded("int4", engine)
    assert model.engine.device == "CPU" and isinstance(model.engine.tokens, list)
    assert isinstance(model.engine, ENGINES[engine])
